import type { CID } from 'multiformats/cid'
import type { AbortOptions, AwaitIterable, ChunkStore } from '../cas/interface.js'
import type { RemoteChunkReader } from './remote.js'

/** What a read-through store needs of the local store (LocalStore has all of it). */
export type CacheStore = ChunkStore & { flush?: () => Promise<void>, pin?: (name: string, root: CID) => Promise<void> }

/**
 * A local store in front of an upstream XenoStore (a peer server's cache, or the central
 * store): what is local is served from here; what is not is fetched from upstream once,
 * verified, kept, then served. `missing` answers for the pair (a block upstream holds is not
 * missing), so a client never sends what either side has. `prefetch` fetches a batch in one
 * want request (the want route calls it before streaming). Writes go to the local store only.
 */
export class ReadThroughStore implements ChunkStore {
  readonly #local: CacheStore
  readonly #upstream: RemoteChunkReader

  constructor (local: CacheStore, upstream: RemoteChunkReader) { this.#local = local; this.#upstream = upstream }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    return await this.#local.has(cid, options) || await this.#upstream.has(cid, options)
  }

  async get (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const local = await this.#local.get(cid, options)
    if (local !== undefined) return local
    const bytes = await this.#upstream.get(cid, options)
    if (bytes !== undefined) await this.#local.put(cid, bytes, options)
    return bytes
  }

  async put (cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> { await this.#local.put(cid, bytes, options) }

  async * missing (cids: AwaitIterable<CID>, options?: AbortOptions): AsyncIterable<CID> {
    const lacking: CID[] = []
    for await (const c of this.#local.missing(cids, options)) lacking.push(c)
    if (lacking.length === 0) return
    const upstream = await this.#upstream.hasMany(lacking, options)
    for (let i = 0; i < lacking.length; i++) if (!upstream[i]) yield lacking[i]
  }

  /** Fetches the blocks of `cids` that are neither local nor absent upstream, in one request, into the local store. */
  async prefetch (cids: readonly CID[], options?: AbortOptions): Promise<void> {
    const lacking: CID[] = []
    for await (const c of this.#local.missing(cids, options)) lacking.push(c)
    if (lacking.length === 0) return
    for await (const block of this.#upstream.getMany(lacking, options)) await this.#local.put(block.cid, block.bytes, options)
  }

  async flush (): Promise<void> { await this.#local.flush?.() }
  async pin (name: string, root: CID): Promise<void> { await this.#local.pin?.(name, root) }
  async close (): Promise<void> { await this.#local.close() }
  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }
}
