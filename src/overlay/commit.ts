import { CID } from 'multiformats/cid'
import type { ChunkReader } from '../cas/interface.js'
import { encodeTreeRoot } from './codec.js'
import { writeDir } from './dir-write.js'
import { FileIndexBuilder, type BlockSink } from './file-write.js'
import type { Entry } from './interface.js'
import { decodeJson, type KvReader } from './kv.js'
import { entryOfNode, type UpperNode } from './upper-node.js'
import { spansOf } from './upper-spans.js'
import { direntRange, ROOT_UPPER_INO, UpperLayer, type Dirent } from './writable.js'

export interface CommitOptions {
  /** Metadata of the root when the writable layer never changed it (the lower root's). */
  readonly rootFallback?: Entry
  readonly signal?: AbortSignal
}

export interface CommitResult {
  readonly root: CID
  /** Files whose content was rewritten (span mode) and distinct chunks stored for them. */
  readonly files: number
  readonly chunks: number
}

/**
 * Turns the content of a writable layer (its Kv, `kv`) into an immutable overlay tree: its
 * directories, files, whiteouts and opaque flags, in tree format v1. Files never written
 * reuse their lower content CID; written files reuse every chunk they still share and only
 * chunks the layer wrote are put into `sink`. `store` must hold the lower content (it is read
 * for index nodes only). Leaves the layer as it is. Idempotent: same layer, same root CID.
 */
export async function commitLayer (kv: KvReader, store: ChunkReader, sink: BlockSink,
  options: CommitOptions = {}): Promise<CommitResult> {
  const upper = new UpperLayer(kv, store)
  const counts = new Map<number, number>()
  for await (const [, raw] of kv.range('d:', 'd;')) {
    const d = decodeJson<Dirent>(raw)
    if (d.i !== undefined) counts.set(d.i, (counts.get(d.i) ?? 0) + 1)
  }
  const leaders = new Map<number, string>()
  const stats = { files: 0, chunks: 0 }
  /** Chunks already put (or known to be the store's): each goes to the sink once. */
  const stored = new Set<string>()

  const fileContent = async (ino: number, node: UpperNode): Promise<{ cid?: CID, size: number }> => {
    if (node.sp !== true) return node.b !== undefined ? { cid: CID.parse(node.b), size: node.z } : { size: 0 }
    stats.files++
    const builder = new FileIndexBuilder(sink)
    for await (const span of spansOf(kv, upper.chunks, ino, node)) {
      options.signal?.throwIfAborted()
      const key = span.cid.toString()
      if (!stored.has(key)) {
        const own = await kv.get(`k:${key}`)
        if (own !== undefined) { await sink.put(span.cid, own); stats.chunks++ }
        stored.add(key)
      }
      await builder.add(span.cid, span.size)
    }
    const c = await builder.finish()
    return c.cid !== undefined ? { cid: c.cid, size: c.size } : { size: 0 }
  }

  const writeEntries = async (dirPath: string, treePath: string): Promise<CID> => {
    const [gte, lt] = direntRange(dirPath)
    const entries: Entry[] = []
    for await (const [key, raw] of kv.range(gte, lt)) {
      const name = key.slice(gte.length)
      const d = decodeJson<Dirent>(raw)
      if (d.i === undefined) { entries.push({ name, kind: 'whiteout', mode: 0, uid: 0, gid: 0, mtimeNs: 0n, size: 0 }); continue }
      const node = await upper.node(d.i)
      if (node === undefined) throw new TypeError(`writable layer: ${dirPath}/${name} names missing node ${d.i}`)
      const childPath = dirPath === '/' ? `/${name}` : `${dirPath}/${name}`
      const { upper: _u, cid: _c, ...meta } = entryOfNode(name, d.i, childPath, node)
      let entry: Entry = meta
      if (node.k === 'dir') entry = { ...meta, cid: await writeEntries(childPath, `${treePath}/${name}`), size: 0 }
      else if (node.k === 'file') {
        const c = await fileContent(d.i, node)
        entry = { ...meta, size: c.size, ...(c.cid !== undefined ? { cid: c.cid } : {}) }
        if ((counts.get(d.i) ?? 0) > 1) {
          if (!leaders.has(d.i)) leaders.set(d.i, `${treePath}/${name}`.slice(1))
          entry = { ...entry, hardlink: leaders.get(d.i) }
        }
      }
      entries.push(entry)
    }
    return await writeDir(entries, sink)
  }

  const rootNode = await upper.node(ROOT_UPPER_INO)
  const fallback = options.rootFallback
  const rootMeta: Entry = rootNode !== undefined
    ? (({ upper: _u, ...m }) => m)(entryOfNode('', ROOT_UPPER_INO, '/', rootNode))
    : { name: '', kind: 'dir', mode: fallback?.mode ?? 0o755, uid: fallback?.uid ?? 0, gid: fallback?.gid ?? 0, mtimeNs: fallback?.mtimeNs ?? 0n, size: 0 }
  const rootCid = await writeEntries('/', '')
  const block = encodeTreeRoot({ ...rootMeta, name: '', kind: 'dir', size: 0, cid: rootCid })
  await sink.put(block.cid, block.bytes)
  return { root: block.cid, ...stats }
}
