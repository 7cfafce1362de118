import type { PreparedChunk } from '../prepare.js'
import type { Counters, IndexDb, IndexOp, PackState } from './index-db.js'
import type { PackFiles } from './pack-files.js'
import { encodeEntry, encodeRecordHead, FLAG_ZSTD, MAX_BLOCK_BYTES, type IndexEntry } from './pack-format.js'

/** In-memory picture of the packs, shared by writer, recovery, GC and fsck. */
export interface PackTable {
  readonly packs: Map<number, PackState>
  readonly counters: Counters
  /** Next unused pack number. */
  nextPack: number
  /** Pack that appends go to, and its logical size (including unwritten buffers). */
  activePack: number
  activeSize: number
}

/** A record appended but not yet in the index: readable from memory until committed. */
export interface PendingRecord {
  /** Binary CID (the index key) and its map key string. */
  readonly key: Uint8Array
  readonly keyText: string
  readonly entry: IndexEntry
  readonly head: Uint8Array
  readonly payload: Uint8Array
}

/** Schedule a write of buffered records once this many bytes wait (one writev each). */
const WRITE_BEHIND_BYTES = 8 * 1024 * 1024
/** Appenders wait when this many bytes wait: bounds the store's buffers to ~2x this. */
const MAX_BUFFERED_BYTES = 24 * 1024 * 1024

/**
 * Appends records to the active pack and commits them to the index. Order of a commit:
 * write the records (write(2)), fsync the packs when durable, then one index batch with the
 * entries and the new pack tails. A process killed at any moment therefore leaves only
 * records past an indexed tail, which opening the store re-indexes (recover.ts).
 */
export class PackWriter {
  readonly pending = new Map<string, PendingRecord>()
  readonly #files: PackFiles
  readonly #index: IndexDb
  readonly #table: PackTable
  readonly #packLimit: number
  #queue: PendingRecord[] = []
  #queuedBytes = 0
  #chain: Promise<void> = Promise.resolve()
  /** A write-behind commit is queued and has not yet taken the queue. */
  #scheduled = false
  #failure: unknown

  constructor (files: PackFiles, index: IndexDb, table: PackTable, packLimitBytes: number) {
    this.#files = files; this.#index = index; this.#table = table; this.#packLimit = packLimitBytes
  }

  /** Appends a prepared block under map key `key` (synchronous: no other append interleaves). */
  append (key: string, p: PreparedChunk): PendingRecord {
    if (this.#failure !== undefined) throw this.#failure
    if (p.rawSize > MAX_BLOCK_BYTES || p.payload.length > MAX_BLOCK_BYTES) throw new RangeError(`blocks are at most ${MAX_BLOCK_BYTES} bytes`)
    const cidBytes = p.cid.bytes
    const flags = p.compressed ? FLAG_ZSTD : 0
    const head = encodeRecordHead(cidBytes, flags, p.rawSize, p.payload.length)
    const length = head.length + p.payload.length
    const t = this.#table
    if (t.activeSize > 0 && t.activeSize + length > this.#packLimit) { t.activePack = t.nextPack++; t.activeSize = 0 }
    const entry: IndexEntry = { pack: t.activePack, offset: t.activeSize, length: p.payload.length, flags, rawSize: p.rawSize }
    t.activeSize += length
    const rec: PendingRecord = { key: cidBytes, keyText: key, entry, head, payload: p.payload }
    this.pending.set(key, rec)
    this.#queue.push(rec)
    this.#queuedBytes += length
    if (this.#queuedBytes >= WRITE_BEHIND_BYTES && !this.#scheduled) {
      this.#scheduled = true
      this.commit(false).catch(() => {}) // a failure is kept in #failure and rethrown to the next caller
    }
    return rec
  }

  /** Resolves when the buffered bytes are below the bound (call after append). */
  async backpressure (): Promise<void> {
    while (this.#queuedBytes >= MAX_BUFFERED_BYTES) await this.commit(false)
  }

  /** Writes and indexes everything appended so far; `durable` adds fsyncs. Serialized. */
  async commit (durable: boolean): Promise<void> {
    const run = this.#chain.then(async () => { await this.#commit(durable) })
    this.#chain = run.catch(() => {})
    await run
  }

  /**
   * Commits everything appended so far (durably) and starts a new active pack, so that every
   * pack numbered below the result is sealed: nothing is appended to it or pending for it.
   */
  async seal (): Promise<number> {
    return await this.exclusive(async () => {
      const t = this.#table
      const first = t.activePack = t.nextPack++
      t.activeSize = 0
      await this.#commit(true)
      return first // not t.activePack: appends during the commit may have rolled it on
    })
  }

  /** Runs `fn` between commits (nothing is being written or indexed meanwhile). */
  async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn)
    this.#chain = run.then(() => {}, () => {})
    return await run
  }

  async #commit (durable: boolean): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure
    const batch = this.#queue
    this.#queue = []; this.#queuedBytes = 0
    this.#scheduled = false
    try {
      await this.#writeRecords(batch)
      if (durable) await this.#files.sync()
      const ops: IndexOp[] = []
      const t = this.#table
      for (const r of batch) {
        ops.push({ type: 'put', sublevel: 'chunks', key: r.key, value: encodeEntry(r.entry) })
        const end = r.entry.offset + r.head.length + r.entry.length
        const state = t.packs.get(r.entry.pack) ?? { tail: 0 }
        if (end > state.tail) state.tail = end
        t.packs.set(r.entry.pack, state)
        t.counters.chunks++; t.counters.rawBytes += r.entry.rawSize; t.counters.storedBytes += r.head.length + r.entry.length
      }
      for (const n of new Set(batch.map((r) => r.entry.pack))) ops.push({ type: 'put', sublevel: 'meta', key: `pack/${n}`, value: t.packs.get(n) })
      if (batch.length > 0 || durable) ops.push({ type: 'put', sublevel: 'meta', key: 'counters', value: t.counters })
      await this.#index.batch(ops, durable)
      for (const r of batch) if (this.pending.get(r.keyText) === r) this.pending.delete(r.keyText)
    } catch (err) {
      this.#failure = err // a half-written batch must not be followed by more appends
      throw err
    }
  }

  async #writeRecords (batch: PendingRecord[]): Promise<void> {
    let i = 0
    while (i < batch.length) {
      const first = batch[i]
      const buffers: Uint8Array[] = []
      let end = first.entry.offset
      while (i < batch.length && batch[i].entry.pack === first.entry.pack && batch[i].entry.offset === end) {
        buffers.push(batch[i].head, batch[i].payload)
        end += batch[i].head.length + batch[i].entry.length
        i++
      }
      await this.#files.write(first.entry.pack, first.entry.offset, buffers)
    }
  }
}
