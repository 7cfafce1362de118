import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { DAG_CBOR_CODEC, RAW_CODEC } from './codes.js'
import { ChunkMissingError, StoreCorruptError } from './errors.js'
import type { AbortOptions, ChunkReader } from './interface.js'
import { keyOf } from './store/guard.js'

/**
 * The CIDs a block links to, in document order (duplicates kept): none for `raw`, every
 * CID inside a `dag-cbor` block. Knows nothing of the tree format, so sync, GC and fsck can
 * walk any DAG. Throws StoreCorruptError (CAS_STORE_CORRUPT) when a dag-cbor block does not
 * decode, TypeError for a codec it does not know.
 */
export function linksOf (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code === RAW_CODEC) return []
  if (cid.code !== DAG_CBOR_CODEC) throw new TypeError(`cannot read links of codec 0x${cid.code.toString(16)}`)
  let value: unknown
  try { value = dagCbor.decode(bytes) } catch (err) { throw new StoreCorruptError(`block ${cid} is not valid dag-cbor`, { cause: err }) }
  const links: CID[] = []
  collect(value, links)
  return links
}

function collect (v: unknown, out: CID[]): void {
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return
  const cid = CID.asCID(v)
  if (cid !== null) { out.push(cid); return }
  if (Array.isArray(v)) { for (const x of v) collect(x, out); return }
  for (const x of Object.values(v)) collect(x, out)
}

/** True when blocks of this codec may link to others (dag-cbor); other codecs are leaves of a walk. */
export function mayHaveLinks (cid: CID): boolean { return cid.code === DAG_CBOR_CODEC }

export interface WalkOptions extends AbortOptions {
  /** What to do when a linking block is absent: 'throw' (default, CAS_CHUNK_MISSING) or 'skip'. */
  readonly onMissing?: 'throw' | 'skip'
  /** Called for each absent linking block when onMissing is 'skip'. */
  readonly missing?: (cid: CID) => void
  /** Keys (binary CID as latin1) already visited: they and what they link to are not yielded. Updated in place. */
  readonly visited?: Set<string>
  /** Blocks read in parallel (default 16). */
  readonly concurrency?: number
}

/**
 * Every CID reachable from `roots` (the roots included), each once, parents before their
 * children. Reads only blocks that can link (dag-cbor); raw leaves are yielded unread, so
 * they may be absent (use `missing()` to find out). Rejects CAS_CHUNK_MISSING for an absent
 * linking block unless `onMissing: 'skip'`, CAS_CHUNK_INVALID when one fails its hash.
 */
export async function * walkDag (reader: ChunkReader, roots: CID | readonly CID[], options: WalkOptions = {}): AsyncIterable<CID> {
  const visited = options.visited ?? new Set<string>()
  const width = options.concurrency ?? 16
  let frontier: CID[] = []
  for (const root of Array.isArray(roots) ? roots : [roots as CID]) {
    if (visit(visited, root)) { frontier.push(root); yield root }
  }
  while (frontier.length > 0) {
    options.signal?.throwIfAborted()
    const next: CID[] = []
    for (let i = 0; i < frontier.length; i += width) {
      const slice = frontier.slice(i, i + width).filter(mayHaveLinks)
      const blocks = await Promise.all(slice.map(async (cid) => await reader.get(cid, options)))
      for (let j = 0; j < slice.length; j++) {
        const bytes = blocks[j]
        if (bytes === undefined) {
          if (options.onMissing !== 'skip') throw new ChunkMissingError(slice[j])
          options.missing?.(slice[j])
          continue
        }
        for (const link of linksOf(slice[j], bytes)) {
          if (!visit(visited, link)) continue
          yield link
          if (mayHaveLinks(link)) next.push(link)
        }
      }
    }
    frontier = next
  }
}

function visit (visited: Set<string>, cid: CID): boolean {
  const key = keyOf(cid)
  if (visited.has(key)) return false
  visited.add(key)
  return true
}
