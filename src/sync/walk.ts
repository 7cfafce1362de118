import type { CID } from 'multiformats/cid'
import { RAW_CODEC } from '../cas/codes.js'
import { ChunkMissingError } from '../cas/errors.js'
import type { AbortOptions, ChunkReader } from '../cas/interface.js'
import { linksOf } from '../overlay/codec.js'
import type { Block } from './car.js'
import { hasCode } from '../util/coded-error.js'

/** True for CIDs of tree nodes (anything but a raw chunk), which must be read to walk further. */
export function isNode (cid: CID): boolean { return cid.code !== RAW_CODEC }

/**
 * Every CID reachable from `root` (root included), each once, breadth-first: the nodes of
 * one level, then the next; raw chunks are yielded without being read. Rejects with
 * ChunkMissingError when a node is absent from `reader`, and with the codec's error when a
 * node does not decode.
 */
export async function * walkTree (reader: ChunkReader, root: CID, options: AbortOptions = {}): AsyncIterable<CID> {
  const seen = new Set<string>([root.toString()])
  let level: CID[] = [root]
  while (level.length > 0) {
    const next: CID[] = []
    for (const cid of level) {
      options.signal?.throwIfAborted()
      yield cid
      if (!isNode(cid)) continue
      const bytes = await reader.get(cid, options)
      if (bytes === undefined) throw new ChunkMissingError(cid)
      for (const link of linksOf(cid, bytes)) {
        const key = link.toString()
        if (!seen.has(key)) { seen.add(key); next.push(link) }
      }
    }
    level = next
  }
}

/** The set (CID strings) of every tree node reachable from `root`, reading what `reader` holds; absent nodes are skipped. */
export async function nodeSet (reader: ChunkReader, root: CID, options: AbortOptions = {}): Promise<Set<string>> {
  const out = new Set<string>()
  for await (const block of nodeClosure(reader, root, new Set(), options)) out.add(block.cid.toString())
  return out
}

/**
 * The tree nodes reachable from `root` as blocks, breadth-first, without raw chunks. A node
 * whose CID is in `skip` is left out with everything below it; an absent or unreadable node
 * (per `canRead`) is left out too, and so is a node that fails verification on read (it is
 * never served), so the receiver finds it missing and asks again.
 */
export async function * nodeClosure (reader: ChunkReader, root: CID, skip: ReadonlySet<string>,
  options: AbortOptions & { canRead?: (cids: CID[]) => Promise<boolean[]> } = {}): AsyncIterable<Block> {
  const seen = new Set<string>()
  let level: CID[] = [root]
  while (level.length > 0) {
    const allowed = options.canRead !== undefined ? await options.canRead(level) : level.map(() => true)
    const next: CID[] = []
    for (let i = 0; i < level.length; i++) {
      options.signal?.throwIfAborted()
      const cid = level[i]
      const bytes = allowed[i] ? await readOrSkip(reader, cid, options) : undefined
      if (bytes === undefined) continue
      yield { cid, bytes }
      for (const link of linksOf(cid, bytes)) {
        const key = link.toString()
        if (isNode(link) && !seen.has(key) && !skip.has(key)) { seen.add(key); next.push(link) }
      }
    }
    level = next
  }
}

async function readOrSkip (reader: ChunkReader, cid: CID, options: AbortOptions): Promise<Uint8Array | undefined> {
  try { return await reader.get(cid, options) } catch (err) {
    if (hasCode(err, 'CAS_CHUNK_INVALID')) return undefined
    throw err
  }
}
