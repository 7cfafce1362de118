import type { CID } from 'multiformats/cid'
import type { ChunkReader, ChunkStore } from '../cas/interface.js'
import { PUBLIC_TENANT, type Principal } from './auth.js'
import type { SyncIndex } from './state.js'

/**
 * Which blocks a principal may see: on an open server, whatever is stored; otherwise only
 * blocks its tenant uploaded (and had verified) or that belong to a public template. One flag
 * per CID. A stored block the tenant does not own answers `false`, exactly as an absent one,
 * so dedup never leaks another tenant's data.
 */
export async function visible (store: Pick<ChunkStore, 'missing'>, index: SyncIndex, p: Principal, cids: readonly CID[]): Promise<boolean[]> {
  let flags: boolean[]
  if (p.open) flags = cids.map(() => true)
  else {
    const [mine, pub] = await Promise.all([index.owns(p.tenant, cids), index.owns(PUBLIC_TENANT, cids)])
    flags = cids.map((_c, i) => mine[i] || pub[i])
  }
  const candidates = cids.filter((_c, i) => flags[i])
  const absent = new Set<string>()
  for await (const c of store.missing(candidates)) absent.add(c.toString())
  return cids.map((c, i) => flags[i] && !absent.has(c.toString()))
}

/** `store` as `p` sees it: blocks `p` may not see read as absent. */
export function visibleReader (store: ChunkReader & Pick<ChunkStore, 'missing'>, index: SyncIndex, p: Principal): ChunkReader {
  return {
    has: async (cid) => (await visible(store, index, p, [cid]))[0],
    get: async (cid, options) => (await visible(store, index, p, [cid]))[0] ? await store.get(cid, options) : undefined
  }
}
