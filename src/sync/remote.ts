import type { CID } from 'multiformats/cid'
import { ChunkInvalidError } from '../cas/errors.js'
import { matchesCid } from '../cas/hasher.js'
import type { AbortOptions, ChunkReader } from '../cas/interface.js'
import { decodeCar, type Block } from './car.js'
import { peerHas, wantStream } from './client.js'
import { PeerRejectedError } from './errors.js'
import type { Peer } from './http.js'
import { packCids, ROUTES } from './protocol.js'

/**
 * A XenoStore as a ChunkReader, for lazy reads (the NFS server fetching a chunk on first
 * read) and read-through caches: `get` is one GET of one block, verified against its CID
 * (ChunkInvalidError otherwise); concurrent gets of one CID share one request. `getMany`
 * fetches a batch in one want request (prefetch of an access trace).
 */
export class RemoteChunkReader implements ChunkReader {
  readonly #peer: Peer
  readonly #inflight = new Map<string, Promise<Uint8Array | undefined>>()

  constructor (peer: Peer) { this.#peer = peer }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    return (await peerHas(this.#peer, [cid], options))[0]
  }

  /** One flag per CID, in one request. */
  async hasMany (cids: CID[], options?: AbortOptions): Promise<boolean[]> {
    return cids.length === 0 ? [] : await peerHas(this.#peer, cids, options)
  }

  async get (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const key = cid.toString()
    let p = this.#inflight.get(key)
    if (p === undefined) {
      p = this.#fetch(cid, options).finally(() => this.#inflight.delete(key))
      this.#inflight.set(key, p)
    }
    return await p
  }

  async #fetch (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    let bytes: Uint8Array
    try { bytes = await this.#peer.fetchBytes('GET', `${ROUTES.blocks}/${cid}`, { signal: options?.signal }) } catch (err) {
      if (err instanceof PeerRejectedError && err.remoteCode === 'SYNC_NOT_FOUND') return undefined
      throw err
    }
    if (!matchesCid(cid, bytes)) throw new ChunkInvalidError(cid, 'the store sent other bytes')
    return bytes
  }

  /** Yields the blocks of `cids` the store has (verified), in one want request; absent ones are left out. */
  async * getMany (cids: CID[], options?: AbortOptions): AsyncIterable<Block> {
    yield * decodeCar(await wantStream(this.#peer, { cids: packCids(cids) }, options?.signal))
  }
}
