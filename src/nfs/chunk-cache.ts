import type { CID } from 'multiformats/cid'
import { STORE_FRAME_RAW_BYTES } from '../cas/compress-policy.js'
import { DAG_CBOR_CODEC, RAW_CODEC, verifyChunk, type AbortOptions, type Block, type ChunkReader, type ChunkStore } from '../cas/index.js'
import { decodeFileIndex } from '../overlay/index.js'

/**
 * A remote that can also send many blocks in one request (a XenoStore want-list answered by one
 * CAR stream). Blocks may come in any order; absent ones are left out. They are verified here
 * unless the reader says it checks them itself (`verifies`).
 */
export interface BatchChunkReader extends ChunkReader {
  getMany? (cids: readonly CID[], options?: AbortOptions): AsyncIterable<{ cid: CID, bytes: Uint8Array }>
  /**
   * `get` and `getMany` return only bytes they checked against their CID (a CAR decoder that
   * verifies as blocks arrive does): the cache and the local store do not hash them again.
   */
  readonly verifies?: boolean
}

/**
 * Fetched blocks are stored in batches of about this many raw bytes: the local store packs a
 * batch into frames compressed on libuv's thread pool (putMany), while this thread goes on
 * answering reads; one block at a time, put() compressed each on this thread.
 */
const PERSIST_BATCH_BYTES = 4 * STORE_FRAME_RAW_BYTES

/** Where a chunk read was served from, for access traces and stats. */
export type ChunkSource = 'memory' | 'local' | 'remote'

export interface ChunkCacheOptions {
  /** Decompressed raw chunks kept in memory, in bytes. Default 256 MiB. */
  maxBytes?: number
  /**
   * Where a block the local store lacks is fetched from (lazy fetch). Fetched blocks are
   * verified against their CID and kept in the local store when it can `put`.
   */
  remote?: BatchChunkReader
  /** Called for every block read by a caller (not readahead), with where it came from. */
  onRead?: (cid: CID, source: ChunkSource) => void
  /**
   * Blocks kept on their way from `remote` ahead of each read: the next chunks of the same file
   * (known from the file index nodes read through this cache). Default 64 (about 4 MiB); 0 disables. Requested in batches of at least half of it.
   */
  readaheadChunks?: number
}

/** File index positions remembered for readahead (chunk → its index's parts and its place). */
const MAX_INDEX_POSITIONS = 262_144

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
  readonly #local: ChunkReader & Partial<Pick<ChunkStore, 'put' | 'putMany'>>
  readonly #remote: BatchChunkReader | undefined
  readonly #max: number
  readonly #onRead: ChunkCacheOptions['onRead']
  readonly #lru = new Map<string, Uint8Array>()
  readonly #inflight = new Map<string, Promise<Uint8Array | undefined>>()
  readonly #readahead: number
  readonly #positions = new Map<string, { parts: readonly CID[], at: number }>()
  /** Where blocks loaded since their last read came from (for `onRead`), bounded by the LRU. */
  readonly #sources = new Map<string, ChunkSource>()
  /** Readahead batches still fetching or storing. */
  readonly #background = new Set<Promise<void>>()
  readonly stats: ChunkCacheStats = { hits: 0, localReads: 0, remoteFetches: 0, sharedFetches: 0, bytes: 0 }

  constructor (local: ChunkReader & Partial<Pick<ChunkStore, 'put' | 'putMany'>>, options: ChunkCacheOptions = {}) {
    this.#local = local
    this.#remote = options.remote
    this.#max = options.maxBytes ?? DEFAULT_CHUNK_CACHE_BYTES_256MIB
    this.#onRead = options.onRead
    this.#readahead = options.readaheadChunks ?? 64
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    if (this.#lru.has(cid.toString())) return true
    if (await this.#local.has(cid, options)) return true
    return this.#remote !== undefined && await this.#remote.has(cid, options)
  }

  async get (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const key = cid.toString()
    const hit = this.#hit(cid, key)
    if (hit !== undefined) return hit
    const pending = this.#inflight.get(key)
    if (pending !== undefined) this.stats.sharedFetches++
    const bytes = await (pending ?? this.#fetch(cid, key, options))
    if (bytes !== undefined && this.#onRead !== undefined) {
      this.#onRead(cid, this.#sources.get(key) ?? 'memory')
      this.#sources.delete(key)
    }
    return bytes
  }

  /**
   * The chunk if it is in memory now, else undefined (nothing is loaded): what `get` would
   * resolve without waiting, counted and traced as a read like `get`'s. Lets a reader of warm
   * chunks (NFS READ) answer without a promise per chunk.
   */
  peek (cid: CID): Uint8Array | undefined {
    return this.#hit(cid, cid.toString())
  }

  /** A read of `key` from memory (LRU order, stats, trace), or undefined when not cached. */
  #hit (cid: CID, key: string): Uint8Array | undefined {
    // A sliding window: every read keeps the next chunks of its file cached or on their way.
    if (this.#remote !== undefined && this.#readahead > 0) this.#readAhead(key)
    const hit = this.#lru.get(key)
    if (hit === undefined) return undefined
    this.#lru.delete(key)
    this.#lru.set(key, hit)
    this.stats.hits++
    if (this.#onRead !== undefined) { this.#onRead(cid, this.#sources.get(key) ?? 'memory'); this.#sources.delete(key) }
    return hit
  }

  async #fetch (cid: CID, key: string, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const p = this.#load(cid, key, options)
    this.#inflight.set(key, p)
    try {
      return await p
    } finally {
      this.#inflight.delete(key)
    }
  }

  /** Remembers where each chunk of a file index node sits, for readahead. */
  #learnIndex (bytes: Uint8Array): void {
    if (this.#remote === undefined || this.#readahead === 0) return
    let parts: readonly CID[]
    try {
      parts = decodeFileIndex(bytes).map((p) => p.cid)
    } catch {
      return // a directory or tree root node
    }
    parts.forEach((cid, at) => {
      if (cid.code !== RAW_CODEC) return
      this.#positions.set(cid.toString(), { parts, at })
      if (this.#positions.size > MAX_INDEX_POSITIONS) this.#positions.delete(this.#positions.keys().next().value as string)
    })
  }

  /**
   * Keeps the chunks after `key` in its file cached or on their way: when fewer than half of the
   * next `readahead` are, the missing ones are requested together (one batch when the remote
   * can), so a sequential reader finds its chunks here.
   */
  #readAhead (key: string): void {
    const pos = this.#positions.get(key)
    if (pos === undefined) return
    const next = pos.parts.slice(pos.at + 1, pos.at + 1 + this.#readahead)
    const missing = next.filter((c) => { const k = c.toString(); return !this.#lru.has(k) && !this.#inflight.has(k) })
    if (missing.length === 0 || missing.length < next.length / 2) return
    if (this.#remote?.getMany === undefined || missing.length === 1) {
      for (const c of missing) this.#fetch(c, c.toString()).catch(() => {}) // the real read retries
      return
    }
    this.#fetchBatch(missing)
  }

  /** One batched request for `cids`; each resolves as its block arrives, or by a single fetch after. */
  #fetchBatch (cids: readonly CID[]): void {
    const waiting = new Map<string, { cid: CID, resolve: (p: Promise<Uint8Array | undefined>) => void }>()
    for (const cid of cids) {
      const key = cid.toString()
      let resolve!: (p: Promise<Uint8Array | undefined>) => void
      const p = new Promise<Uint8Array | undefined>((r) => { resolve = r })
      waiting.set(key, { cid, resolve })
      this.#inflight.set(key, p)
      p.finally(() => { if (this.#inflight.get(key) === p) this.#inflight.delete(key) }).catch(() => {})
    }
    const verifies = this.#remote!.verifies === true
    let batch: Block[] = []
    let batchBytes = 0
    let storing: Promise<void> = Promise.resolve()
    const run = async (): Promise<void> => {
      for await (const block of this.#remote!.getMany!(cids)) {
        const key = block.cid.toString()
        const w = waiting.get(key)
        if (w === undefined) continue
        if (!verifies) verifyChunk(block.cid, block.bytes)
        waiting.delete(key)
        this.stats.remoteFetches++
        this.#noteSource(key, 'remote')
        if (block.cid.code === RAW_CODEC && block.bytes.length <= this.#max) this.#keep(key, block.bytes)
        // The reader gets the block first; storing it (compression, index) follows.
        w.resolve(Promise.resolve(block.bytes))
        batch.push(block)
        batchBytes += block.bytes.length
        if (batchBytes >= PERSIST_BATCH_BYTES) {
          await storing // one batch stored at a time: what waits is bounded
          storing = this.#persist(batch)
          batch = []; batchBytes = 0
        }
      }
    }
    this.#track(run().catch(() => {}).then(async () => {
      // Whatever the batch did not deliver is fetched on its own; what arrived, also before an
      // error, is stored. A block that fails to store stays in memory and is fetched again later.
      for (const [key, w] of waiting) w.resolve(this.#load(w.cid, key))
      await storing
      if (batch.length > 0) await this.#persist(batch)
    }).catch(() => {}))
  }

  /** Keeps `work` (a batch's fetch and store) until it ends, for flush(). */
  #track (work: Promise<void>): void {
    this.#background.add(work)
    void work.finally(() => { this.#background.delete(work) })
  }

  /**
   * Resolves once the blocks fetched ahead so far are in the local store (or failed to be
   * stored): call it before closing the store, or what was fetched last is fetched again.
   */
  async flush (): Promise<void> {
    while (this.#background.size > 0) await Promise.all(this.#background)
  }

  async #load (cid: CID, key: string, options?: AbortOptions): Promise<Uint8Array | undefined> {
    let bytes = await this.#local.get(cid, options)
    let source: ChunkSource = 'local'
    if (bytes === undefined && this.#remote !== undefined) {
      bytes = await this.#remote.get(cid, options)
      if (bytes === undefined) return undefined
      if (this.#remote.verifies !== true) verifyChunk(cid, bytes)
      this.stats.remoteFetches++
      source = 'remote'
      await this.#persist([{ cid, bytes }], options)
    }
    if (bytes !== undefined && cid.code === DAG_CBOR_CODEC) this.#learnIndex(bytes)
    if (bytes === undefined) return undefined
    if (source === 'local') this.stats.localReads++
    this.#noteSource(key, source)
    if (cid.code === RAW_CODEC && bytes.length <= this.#max) this.#keep(key, bytes)
    return bytes
  }

  /** Keeps fetched, verified blocks in the local store (when it can store). */
  async #persist (blocks: Block[], options?: AbortOptions): Promise<void> {
    if (this.#local.putMany !== undefined) { await this.#local.putMany(blocks, { ...options, verified: true }); return }
    for (const b of blocks) await this.#local.put?.(b.cid, b.bytes, options)
  }

  #noteSource (key: string, source: ChunkSource): void {
    if (this.#onRead === undefined) return
    this.#sources.set(key, source)
    if (this.#sources.size > MAX_INDEX_POSITIONS) this.#sources.delete(this.#sources.keys().next().value as string)
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
