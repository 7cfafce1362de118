import type { CID } from 'multiformats/cid'
import { RAW_CODEC, verifyChunk, type AbortOptions, type ChunkReader, type ChunkStore } from '../cas/index.js'

/** Where a chunk read was served from, for access traces and stats. */
export type ChunkSource = 'memory' | 'local' | 'remote'

export interface ChunkCacheOptions {
  /** Decompressed raw chunks kept in memory, in bytes. Default 256 MiB. */
  maxBytes?: number
  /**
   * Where a block the local store lacks is fetched from (lazy fetch). Fetched blocks are
   * verified against their CID and kept in the local store when it can `put`.
   */
  remote?: ChunkReader
  /** Called once per block read, with where it came from (e.g. an access trace). */
  onRead?: (cid: CID, source: ChunkSource) => void
}

export const DEFAULT_CHUNK_CACHE_BYTES_256MIB = 268_435_456

export interface ChunkCacheStats { hits: number, localReads: number, remoteFetches: number, sharedFetches: number, bytes: number }

/**
 * A read-through ChunkReader for the NFS export: hot raw chunks stay decompressed and verified
 * in a bounded LRU (tree nodes are cached decoded by the overlay), a miss reads the local store,
 * and a block absent there is fetched from `remote`, verified and kept. Concurrent reads of one
 * missing block share one fetch. Returned arrays are shared with the cache: callers must not
 * modify them.
 */
export class ChunkCache implements ChunkReader {
  readonly #local: ChunkReader & Partial<Pick<ChunkStore, 'put'>>
  readonly #remote: ChunkReader | undefined
  readonly #max: number
  readonly #onRead: ChunkCacheOptions['onRead']
  readonly #lru = new Map<string, Uint8Array>()
  readonly #inflight = new Map<string, Promise<Uint8Array | undefined>>()
  readonly stats: ChunkCacheStats = { hits: 0, localReads: 0, remoteFetches: 0, sharedFetches: 0, bytes: 0 }

  constructor (local: ChunkReader & Partial<Pick<ChunkStore, 'put'>>, options: ChunkCacheOptions = {}) {
    this.#local = local
    this.#remote = options.remote
    this.#max = options.maxBytes ?? DEFAULT_CHUNK_CACHE_BYTES_256MIB
    this.#onRead = options.onRead
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    if (this.#lru.has(cid.toString())) return true
    if (await this.#local.has(cid, options)) return true
    return this.#remote !== undefined && await this.#remote.has(cid, options)
  }

  async get (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const key = cid.toString()
    const hit = this.#lru.get(key)
    if (hit !== undefined) {
      this.#lru.delete(key)
      this.#lru.set(key, hit)
      this.stats.hits++
      this.#onRead?.(cid, 'memory')
      return hit
    }
    const pending = this.#inflight.get(key)
    if (pending !== undefined) { this.stats.sharedFetches++; return await pending }
    const p = this.#load(cid, key, options)
    this.#inflight.set(key, p)
    try {
      return await p
    } finally {
      this.#inflight.delete(key)
    }
  }

  async #load (cid: CID, key: string, options?: AbortOptions): Promise<Uint8Array | undefined> {
    let bytes = await this.#local.get(cid, options)
    let source: ChunkSource = 'local'
    if (bytes === undefined && this.#remote !== undefined) {
      bytes = await this.#remote.get(cid, options)
      if (bytes === undefined) return undefined
      verifyChunk(cid, bytes)
      this.stats.remoteFetches++
      source = 'remote'
      await this.#local.put?.(cid, bytes, options)
    }
    if (bytes === undefined) return undefined
    if (source === 'local') this.stats.localReads++
    this.#onRead?.(cid, source)
    if (cid.code === RAW_CODEC && bytes.length <= this.#max) this.#keep(key, bytes)
    return bytes
  }

  #keep (key: string, bytes: Uint8Array): void {
    this.#lru.set(key, bytes)
    this.stats.bytes += bytes.length
    while (this.stats.bytes > this.#max) {
      const [oldKey, old] = this.#lru.entries().next().value as [string, Uint8Array]
      this.#lru.delete(oldKey)
      this.stats.bytes -= old.length
    }
  }
}
