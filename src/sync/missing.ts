import type { CID } from 'multiformats/cid'
import type { AbortOptions, AwaitIterable } from '../cas/interface.js'

/** Asks a peer which of `cids` it holds; resolves one flag per CID, in order. */
export type HasBatch = (cids: CID[], options?: AbortOptions) => Promise<boolean[]>

export const DEFAULT_HAS_BATCH = 16_384

/**
 * Yields the CIDs of `cids` that the peer lacks, in input order, asking `has` in batches of
 * `batchSize` (one request per batch). Duplicates in the input are asked about once.
 */
export async function * findMissing (cids: AwaitIterable<CID>, has: HasBatch,
  options: AbortOptions & { batchSize?: number } = {}): AsyncIterable<CID> {
  const size = options.batchSize ?? DEFAULT_HAS_BATCH
  const seen = new Set<string>()
  let batch: CID[] = []
  for await (const cid of cids) {
    const key = cid.toString()
    if (seen.has(key)) continue
    seen.add(key)
    batch.push(cid)
    if (batch.length >= size) { yield * ask(batch); batch = [] }
  }
  if (batch.length > 0) yield * ask(batch)

  async function * ask (list: CID[]): AsyncIterable<CID> {
    const flags = await has(list, options)
    for (let i = 0; i < list.length; i++) if (!flags[i]) yield list[i]
  }
}
