import type { CID } from 'multiformats/cid'
import { cidForChunk } from '../cas/hasher.js'
import type { ChunkWriter } from '../cas/interface.js'
import { MAX_FILE_PARTS } from './format.js'
import { encodeFileIndexFast } from './dir-write-encode.js'
import type { FilePart } from './interface.js'

/** Where encoded blocks (chunks and nodes) go: the narrow slice of a ChunkStore writers use. */
export type BlockSink = Pick<ChunkWriter, 'put'>

/** The content reference of a file entry: `cid` absent for an empty file. */
export interface FileContent { readonly cid?: CID, readonly size: number }

/**
 * Builds the file index of one file from its chunks, streaming: parts are added in content
 * order and index nodes are written as soon as they fill, so memory stays at most
 * MAX_FILE_PARTS parts per level whatever the file size.
 *
 * Layout (deterministic, a function of the chunk list only): level 0 groups consecutive
 * chunks MAX_FILE_PARTS at a time into index nodes; level n+1 groups level-n nodes the same
 * way; every chunk is at the same depth. A file of one chunk is that raw chunk (no index);
 * an empty file has no CID; the top level is one node.
 */
export class FileIndexBuilder {
  readonly #sink: BlockSink
  readonly #maxParts: number
  /** Pending parts per level, level 0 = raw chunks. */
  readonly #levels: FilePart[][] = [[]]
  #size = 0
  #finished = false

  /** `maxParts` is for tests of deep indexes only; the format pins MAX_FILE_PARTS. */
  constructor (sink: BlockSink, maxParts = MAX_FILE_PARTS) {
    if (!(maxParts >= 2 && maxParts <= MAX_FILE_PARTS)) throw new RangeError('maxParts must be in [2, MAX_FILE_PARTS]')
    this.#sink = sink
    this.#maxParts = maxParts
  }

  /** Bytes added so far. */
  get size (): number { return this.#size }

  /**
   * Appends the next chunk (already stored by the caller) of `size` > 0 bytes. Returns a
   * promise only when an index node is written (a level filled), else undefined: an import
   * adds thousands of chunks and needs no promise per chunk. Await whatever it returns.
   */
  add (cid: CID, size: number): Promise<void> | undefined {
    if (this.#finished) throw new TypeError('FileIndexBuilder already finished')
    if (!(size > 0)) throw new RangeError('a chunk has at least one byte')
    this.#size += size
    const parts = this.#levels[0]
    if (parts.length < this.#maxParts) { parts.push({ cid, size }); return undefined }
    return this.#push(0, { cid, size })
  }

  async #push (level: number, part: FilePart): Promise<void> {
    if (this.#levels.length === level) this.#levels.push([])
    const parts = this.#levels[level]
    if (parts.length === this.#maxParts) {
      this.#levels[level] = []
      await this.#push(level + 1, await this.#write(parts))
      this.#levels[level].push(part)
    } else {
      parts.push(part)
    }
  }

  async #write (parts: readonly FilePart[]): Promise<FilePart> {
    const block = encodeFileIndexFast(parts)
    await this.#sink.put(block.cid, block.bytes)
    let size = 0
    for (const p of parts) size += p.size
    return { cid: block.cid, size }
  }

  /**
   * Writes the remaining index nodes and returns the file's content reference: at once (no
   * promise) for an empty or one-chunk file, which writes nothing.
   */
  finish (): FileContent | Promise<FileContent> {
    if (this.#finished) throw new TypeError('FileIndexBuilder already finished')
    const levels = this.#levels
    if (levels.length === 1 && levels[0].length <= 1) {
      this.#finished = true
      return levels[0].length === 0 ? { size: 0 } : { cid: levels[0][0].cid, size: this.#size }
    }
    return this.#finishLevels()
  }

  async #finishLevels (): Promise<FileContent> {
    this.#finished = true
    const levels = this.#levels
    for (let level = 0; level < levels.length; level++) {
      const parts = levels[level]
      const top = level === levels.length - 1
      if (top && parts.length === 1) return { cid: parts[0].cid, size: this.#size }
      if (parts.length === 0) {
        if (top) return { size: 0 }
        continue
      }
      const node = await this.#write(parts)
      if (top) return { cid: node.cid, size: this.#size }
      levels[level] = []
      // Through #push, so a full level above spills upwards instead of growing past the limit.
      await this.#push(level + 1, node)
    }
    throw new Error('unreachable')
  }
}

/**
 * Stores a file from its chunks (e.g. from cdcChunker): every chunk is put as a raw block,
 * then the index. Returns the content reference for its Entry. Idempotent with an idempotent
 * sink. Chunks are not retained.
 */
export async function writeFileChunks (chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  sink: BlockSink): Promise<FileContent> {
  const builder = new FileIndexBuilder(sink)
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue
    const cid = cidForChunk(chunk)
    await sink.put(cid, chunk)
    await builder.add(cid, chunk.length)
  }
  return await builder.finish()
}
