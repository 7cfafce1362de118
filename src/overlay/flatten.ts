import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '../cas/interface.js'
import { encodeTreeRoot } from './codec.js'
import { writeDir } from './dir-write.js'
import type { BlockSink } from './file-write.js'
import type { Entry } from './interface.js'
import type { Resolved } from './layer.js'
import type { Union } from './union.js'

/**
 * Writes the union as one plain tree (no whiteouts, no opaque flags) and returns its root
 * CID: the tree that importing the union's content directly would give, so two unions (or a
 * union and an import) show the same thing exactly when their flattened roots are equal.
 * Directories held by the bottom layer alone are reused by CID without being read (unless an
 * onDir hook such as `.mount` handling may change them); content is never copied (entries
 * keep their content CIDs).
 */
export async function flattenUnion (union: Union, sink: BlockSink, options: AbortOptions = {}): Promise<CID> {
  const bottom = union.layers[union.layers.length - 1]
  const dirCid = async (r: Resolved): Promise<CID> => {
    options.signal?.throwIfAborted()
    if (!union.hooked && r.sources.length === 1 && r.sources[0].layer === bottom && r.entry.cid !== undefined) return r.entry.cid
    const entries: Entry[] = []
    for await (const s of union.readdir(r)) {
      const { opaque: _o, ...entry } = s.entry
      if (entry.kind !== 'dir') { entries.push(entry); continue }
      const child = await union.child(r, entry.name)
      if (child === undefined) throw new TypeError(`union lost ${entry.name}`)
      entries.push({ ...entry, cid: await dirCid(child) })
    }
    return await writeDir(entries, sink)
  }
  const root = await union.root()
  const { opaque: _o, ...meta } = root.entry
  const block = encodeTreeRoot({ ...meta, name: '', cid: await dirCid(root) })
  await sink.put(block.cid, block.bytes)
  return block.cid
}
