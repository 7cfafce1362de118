import type { CID } from 'multiformats/cid'
import type { ChunkReader } from '../cas/interface.js'
import { PUBLIC_TENANT, type Principal } from './auth.js'
import type { SyncIndex } from './state.js'

/**
 * Which blocks a principal may see: on an open server, whatever is stored; otherwise only
 * blocks its tenant uploaded (and had verified) or that belong to a public template. One flag
 * per CID. A stored block the tenant does not own answers `false`, exactly as an absent one,
 * so dedup never leaks another tenant's data.
 */
export async function visible (store: ChunkReader, index: SyncIndex, p: Principal, cids: readonly CID[]): Promise<boolean[]> {
  let flags: boolean[]
  if (p.open) flags = cids.map(() => true)
  else {
    const [mine, pub] = await Promise.all([index.owns(p.tenant, cids), index.owns(PUBLIC_TENANT, cids)])
    flags = cids.map((_c, i) => mine[i] || pub[i])
  }
  return await Promise.all(cids.map(async (c, i) => flags[i] && await store.has(c)))
}

/** `store` as `p` sees it: blocks `p` may not see read as absent. */
export function visibleReader (store: ChunkReader, index: SyncIndex, p: Principal): ChunkReader {
  return {
    has: async (cid) => (await visible(store, index, p, [cid]))[0],
    get: async (cid, options) => (await visible(store, index, p, [cid]))[0] ? await store.get(cid, options) : undefined
  }
}
