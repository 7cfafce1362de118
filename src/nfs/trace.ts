import { createWriteStream, type WriteStream } from 'node:fs'
import type { CID } from 'multiformats/cid'
import type { Filesystem, NodeId } from './backend.js'
import type { ChunkSource } from './chunk-cache.js'

/**
 * An access trace of an export, for prefetching on a later boot: one JSON object a line,
 *   {"chunk": CID, "from": "memory"|"local"|"remote", "ms": T}   first read of each block
 *   {"file": fileid, "path": P, "ms": T}                          first READ of each file
 * in first-access order, `ms` counting from the trace's start. Bounded by what the export
 * holds (each block and file is written once).
 */
export class AccessTrace {
  readonly #out: WriteStream
  readonly #start = performance.now()
  readonly #chunks = new Set<string>()
  readonly #files = new Set<NodeId>()

  constructor (file: string) {
    this.#out = createWriteStream(file, { flags: 'a' })
  }

  #ms (): number { return Math.round(performance.now() - this.#start) }

  /** Records a block read (pass as ChunkCacheOptions.onRead). */
  chunk (cid: CID, from: ChunkSource): void {
    const key = cid.toString()
    if (this.#chunks.has(key)) return
    this.#chunks.add(key)
    this.#out.write(JSON.stringify({ chunk: key, from, ms: this.#ms() }) + '\n')
  }

  /** Records the first READ of a file. */
  file (id: NodeId, path: string | undefined): void {
    if (this.#files.has(id)) return
    this.#files.add(id)
    this.#out.write(JSON.stringify({ file: Number(id), path, ms: this.#ms() }) + '\n')
  }

  hasFile (id: NodeId): boolean { return this.#files.has(id) }

  get counts (): { chunks: number, files: number } { return { chunks: this.#chunks.size, files: this.#files.size } }

  async close (): Promise<void> {
    await new Promise<void>((resolve) => { this.#out.end(resolve) })
  }
}

/** `fs` with every READ recorded in `trace`; `pathOf` names files in the trace. */
export function tracedFilesystem (fs: Filesystem, trace: AccessTrace, pathOf?: (id: NodeId) => Promise<string | undefined>): Filesystem {
  const traced: Filesystem = Object.create(fs) as Filesystem
  traced.read = async (id, offset, count) => {
    const res = await fs.read(id, offset, count)
    if (!trace.hasFile(id)) trace.file(id, await pathOf?.(id))
    return res
  }
  return traced
}
