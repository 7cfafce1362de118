import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { checkStore, type FsckOptions, type FsckReport } from '../fsck.js'
import { collectGarbage, type GcOptions, type GcReport } from '../gc.js'
import { ChunkInvalidError, ChunkMissingError, PinNotFoundError, StoreClosedError } from '../errors.js'
import type { AbortOptions, AwaitIterable, ChunkStore } from '../interface.js'
import { checkPinName, type Pin } from '../pins.js'
import { preparePayload, type PreparedChunk } from '../prepare.js'
import { verifyChunk } from '../verify.js'
import { keyOf, WriteGuard, type WriteLease } from './guard.js'
import { IndexDb } from './index-db.js'
import { PackFiles } from './pack-files.js'
import { decodeEntry, type IndexEntry } from './pack-format.js'
import { openPayload } from './pack-scan.js'
import { recover, type RecoveryReport } from './recover.js'
import { PackWriter, type PackTable, type PendingRecord } from './writer.js'

export interface LocalStoreOptions {
  /** A pack is closed and a new one started past this size (default 64 MiB). */
  readonly packSizeBytes?: number
  /** zstd level for put() (default 1; 0 stores everything uncompressed). */
  readonly compressionLevel?: number
  /** Wait up to this long for another process to release the store (default 0: fail at once). */
  readonly lockWaitMs?: number
}

/** Totals of a store. `storedBytes` counts live records; `packBytes` the pack files on disk. */
export interface StoreStats {
  chunks: number
  rawBytes: number
  storedBytes: number
  packFiles: number
  packBytes: number
  pins: number
}

export const DEFAULT_PACK_SIZE_BYTES = 64 * 1024 * 1024
/** CIDs looked up per event-loop turn in missing(). */
const MISSING_BATCH = 256

/** Where a located block is: still in memory, or in a pack. */
export type Location = { rec: PendingRecord, entry?: undefined } | { rec?: undefined, entry: IndexEntry }

/** The parts GC and fsck work on (not a public API). */
export interface StoreParts {
  readonly dir: string
  readonly files: PackFiles
  readonly index: IndexDb
  readonly table: PackTable
  readonly writer: PackWriter
  readonly guard: WriteGuard
}

export { keyOf }

/*
 * Layout (chosen by bench/store.bench.ts on the 187 MiB Debian sample, 6.8k CDC chunks):
 *   dir/packs/NNNNNN.pack   append-only packs of self-describing records (pack-format.ts),
 *                           rolled at 64 MiB; zstd-1 payloads when that is smaller
 *   dir/index/              LevelDB: CID -> {pack, offset, length, flags, raw size}; pins; meta
 * One file per chunk (tmp + rename in 256 fan-out folders) wrote 10-18 MiB/s here, packs
 * 100+ MiB/s on the same chunks, with one inode per 64 MiB instead of one per chunk (a busy
 * cache holds millions) and one fsync per flush instead of one per chunk.
 *
 * Durability: a commit writes records (write-behind, 8 MiB at a time), then indexes them;
 * flush()/pin()/close() fsync the packs before a synced index batch. After kill -9 the
 * kernel still has every write(2), so opening re-indexes whole valid records past each
 * pack's indexed tail and cuts a torn one (recover.ts). After a power loss an index entry
 * may point at lost bytes: reads verify every block, so that reads as corrupt and is dropped.
 *
 * Concurrency: one process at a time, enforced by LevelDB's LOCK (fcntl; released by the
 * kernel when the holder dies): a second open rejects CAS_STORE_LOCKED, or waits lockWaitMs.
 * Within the process, imports (WriteLease), gc and fsck coordinate through guard.ts, so a
 * daemon can collect garbage while it pulls and imports. A CLI gc started during a CLI
 * import fails fast (or waits with --wait) and so can never sweep the import's chunks.
 */

/**
 * Opens (creating) the local chunk store in `dir`: `dir/packs/NNNNNN.pack` append-only
 * pack files and a LevelDB index in `dir/index`. Recovers from any earlier crash before
 * resolving (see `recovery`). One process at a time: rejects CAS_STORE_LOCKED when another
 * holds the store longer than `lockWaitMs`.
 */
export async function openLocalStore (dir: string, options: LocalStoreOptions = {}): Promise<LocalStore> {
  await mkdir(dir, { recursive: true })
  const index = await IndexDb.open(join(dir, 'index'), dir, options.lockWaitMs ?? 0)
  try {
    const files = new PackFiles(join(dir, 'packs'))
    await files.init()
    const table: PackTable = { packs: new Map(), counters: { chunks: 0, rawBytes: 0, storedBytes: 0 }, nextPack: 1, activePack: 0, activeSize: 0 }
    const recovery = await recover(files, index, table)
    const limit = options.packSizeBytes ?? DEFAULT_PACK_SIZE_BYTES
    const last = table.nextPack - 1
    const lastState = table.packs.get(last)
    if (lastState !== undefined && lastState.dead !== true && !recovery.damagedPacks.includes(last) && lastState.tail < limit) {
      table.activePack = last; table.activeSize = lastState.tail
    } else table.activePack = table.nextPack++
    const writer = new PackWriter(files, index, table, limit)
    return new LocalStore({ dir, files, index, table, writer, guard: new WriteGuard() }, recovery, options.compressionLevel ?? 1)
  } catch (err) {
    await index.close()
    throw err
  }
}

/**
 * A ChunkStore of blocks of any codec (raw chunks, dag-cbor nodes) in pack files. Every
 * read is verified against its CID; a block that fails is dropped from the index (so it
 * reads as absent and is stored again by the next put) and the read rejects
 * CAS_CHUNK_INVALID. Writes are buffered: they are readable at once, safe against a killed
 * process once written (a few MiB later), and durable after flush(), pin() or close().
 */
export class LocalStore implements ChunkStore {
  readonly #p: StoreParts
  readonly #level: number
  #closed = false
  #maint: Promise<void> = Promise.resolve()
  /** What opening found and repaired (torn tails, re-indexed records). */
  readonly recovery: RecoveryReport

  constructor (parts: StoreParts, recovery: RecoveryReport, level: number) {
    this.#p = parts; this.recovery = recovery; this.#level = level
  }

  get dir (): string { return this.#p.dir }

  /** Internals for gc.ts and fsck.ts. */
  get parts (): StoreParts { this.#check(); return this.#p }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    this.#check(options)
    const found = this.locateSync(cid) !== undefined
    if (found) this.#p.guard.touch(keyOf(cid))
    return found
  }

  async get (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    this.#check(options)
    for (let attempt = 0; ; attempt++) {
      const epoch = this.#p.guard.epoch
      const loc = await this.locate(cid)
      if (loc === undefined) return undefined
      if (loc.rec !== undefined) return this.#open(cid, loc.rec.entry, loc.rec.payload, false)
      const e = loc.entry
      let payload: Uint8Array
      try {
        payload = await this.#p.files.readSmall(e.pack, e.offset + 16 + cid.bytes.length, e.length)
      } catch (err) {
        if (this.#p.guard.epoch !== epoch && attempt < 3) continue // GC moved it meanwhile
        await this.#drop(cid, e)
        throw new ChunkInvalidError(cid, 'its pack cannot be read', { cause: err })
      }
      if (payload.length < e.length && this.#p.guard.epoch !== epoch && attempt < 3) continue
      try {
        return this.#open(cid, e, payload, true)
      } catch (err) {
        await this.#drop(cid, e)
        throw err
      }
    }
  }

  /** Verified block of a payload; copies unless `fresh` (a buffer nobody else holds). */
  #open (cid: CID, e: IndexEntry, payload: Uint8Array, fresh: boolean): Uint8Array {
    if (payload.length !== e.length) throw new ChunkInvalidError(cid, 'its record is cut short')
    const block = openPayload(cid.bytes, e.flags, e.rawSize, payload)
    if (block === undefined) throw new ChunkInvalidError(cid)
    // A plain Uint8Array the caller owns (never a Buffer: equal to what MemoryChunkStore returns).
    const b = block.bytes === payload && !fresh ? payload.slice() : block.bytes
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
  }

  /** Drops a corrupt entry so the block reads as absent and can be stored again. */
  async #drop (cid: CID, e: IndexEntry): Promise<void> {
    if (this.#closed) return
    const current = await this.locate(cid)
    if (current?.entry === undefined || current.entry.pack !== e.pack || current.entry.offset !== e.offset) return
    const t = this.#p.table.counters
    t.chunks--; t.rawBytes -= e.rawSize; t.storedBytes -= 16 + cid.bytes.length + e.length
    await this.#p.index.batch([{ type: 'del', sublevel: 'chunks', key: cid.bytes }, { type: 'put', sublevel: 'meta', key: 'counters', value: t }], false)
  }

  /** Where `cid` is stored, or undefined. Safe against a concurrent GC index switch. */
  async locate (cid: CID): Promise<Location | undefined> { return this.locateSync(cid) }

  /**
   * Synchronous lookup: pending records, then LevelDB's getSync (a few µs from its cache,
   * ~25x faster than an async get's thread-pool round trip, which dominated put()). Being
   * synchronous, it cannot interleave with a GC index switch; keys being dropped are absent.
   */
  locateSync (cid: CID): Location | undefined {
    const key = keyOf(cid)
    const { writer, guard, index } = this.#p
    const rec = writer.pending.get(key)
    if (rec !== undefined) return { rec }
    if (guard.doomed.has(key)) return undefined
    const raw = index.chunks.getSync(cid.bytes)
    if (raw === undefined) return undefined
    const entry = decodeEntry(raw)
    return entry === undefined ? undefined : { entry }
  }

  /** Idempotent. Verifies `bytes` against `cid` (CAS_CHUNK_INVALID). `bytes` stay the caller's. */
  async put (cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    this.#check(options)
    verifyChunk(cid, bytes)
    if (this.locateSync(cid) !== undefined) { this.#p.guard.touch(keyOf(cid)); return }
    const p = preparePayload(cid, bytes, this.#level)
    await this.#append(p.compressed ? p : { ...p, payload: bytes.slice() })
  }

  /**
   * Trusted fast path: appends a block prepared by prepareChunk without hashing it again.
   * Only for producers that computed `p.cid` from the bytes themselves. Resolves true when
   * stored, false when the store already had it. The store owns `p.payload` afterwards.
   */
  async putPrepared (p: PreparedChunk, options?: AbortOptions): Promise<boolean> {
    this.#check(options)
    if (this.locateSync(p.cid) !== undefined) { this.#p.guard.touch(keyOf(p.cid)); return false }
    return await this.#append(p)
  }

  /**
   * putPrepared for a batch, with one index read for all of them (the import pipeline's
   * path: a lookup per block costs more than hashing it). Same trust contract as
   * putPrepared. Resolves how many blocks were stored (the rest were present).
   */
  async putPreparedMany (ps: readonly PreparedChunk[], options?: AbortOptions): Promise<number> {
    this.#check(options)
    const missing = new Set((await this.#missingOf(ps.map((p) => p.cid), options)).map(keyOf))
    let stored = 0
    for (const p of ps) if (missing.has(keyOf(p.cid)) && await this.#append(p)) stored++
    return stored
  }

  async #append (p: PreparedChunk): Promise<boolean> {
    this.#check()
    const key = keyOf(p.cid)
    this.#p.guard.touch(key)
    if (this.#p.writer.pending.has(key)) return false // a concurrent put won the race
    this.#p.writer.append(key, p)
    await this.#p.writer.backpressure()
    return true
  }

  async * missing (cids: AwaitIterable<CID>, options?: AbortOptions): AsyncIterable<CID> {
    let batch: CID[] = []
    for await (const cid of cids) {
      batch.push(cid)
      if (batch.length >= MISSING_BATCH) { yield * await this.#missingOf(batch, options); batch = [] }
    }
    if (batch.length > 0) yield * await this.#missingOf(batch, options)
  }

  async #missingOf (cids: CID[], options?: AbortOptions): Promise<CID[]> {
    this.#check(options)
    const out: CID[] = []
    for (const cid of cids) {
      if (this.locateSync(cid) !== undefined) this.#p.guard.touch(keyOf(cid)); else out.push(cid)
    }
    return out
  }

  /** Makes every write so far durable (fsync of packs, then a synced index batch). */
  async flush (): Promise<void> {
    this.#check()
    await this.#p.writer.commit(true)
  }

  /** Starts a write: blocks stored or found present until `release()` are safe from GC. */
  beginWrite (): WriteLease { this.#check(); return this.#p.guard.beginWrite() }

  /**
   * Names `root` (durably; also flushes every write so far). Replaces an existing pin of
   * that name. Rejects CAS_BAD_PIN_NAME for a bad name, CAS_CHUNK_MISSING when the store
   * lacks `root` itself (the blocks below it are not checked: see fsck).
   */
  async pin (name: string, root: CID): Promise<void> {
    this.#check()
    checkPinName(name)
    if (!await this.has(root)) throw new ChunkMissingError(root)
    if (this.#p.guard.gcRunning) this.#p.guard.lateRoots.push(root.bytes)
    await this.#p.writer.commit(true)
    await this.#p.index.batch([{ type: 'put', sublevel: 'pins', key: name, value: root.bytes }], true)
  }

  /** Removes a pin; resolves false when there was none. Its blocks go at the next gc(). */
  async unpin (name: string): Promise<boolean> {
    this.#check()
    checkPinName(name)
    if (await this.#p.index.pins.get(name) === undefined) return false
    await this.#p.index.batch([{ type: 'del', sublevel: 'pins', key: name }], true)
    return true
  }

  /** Every pin, sorted by name. */
  async pins (): Promise<Pin[]> {
    this.#check()
    const out: Pin[] = []
    for await (const [name, value] of this.#p.index.pins.iterator()) out.push({ name, root: CID.decode(value as unknown as Uint8Array) })
    return out
  }

  /** The root pinned as `name`, or undefined. */
  async resolvePin (name: string): Promise<CID | undefined> {
    this.#check()
    const value = await this.#p.index.pins.get(name) as unknown as Uint8Array | undefined
    return value === undefined ? undefined : CID.decode(value)
  }

  /** Like resolvePin, but rejects CAS_PIN_NOT_FOUND when absent. */
  async requirePin (name: string): Promise<CID> {
    const cid = await this.resolvePin(name)
    if (cid === undefined) throw new PinNotFoundError(name)
    return cid
  }

  async stats (): Promise<StoreStats> {
    this.#check()
    const { files, table, writer, index } = this.#p
    const s: StoreStats = { ...table.counters, packFiles: 0, packBytes: 0, pins: 0 }
    for (const r of writer.pending.values()) { s.chunks++; s.rawBytes += r.entry.rawSize; s.storedBytes += r.head.length + r.entry.length }
    for (const n of (await files.list()).packs) { s.packFiles++; s.packBytes += await files.size(n) }
    for await (const _ of index.pins.keys()) s.pins++
    return s
  }

  /**
   * Garbage collection (see gc.ts collectGarbage): removes every block not reachable from a
   * pin and not protected by a write in flight. Runs one at a time with fsck.
   */
  async gc (options?: GcOptions): Promise<GcReport> {
    this.#check(options)
    return await this.#maintenance(async () => await collectGarbage(this, options))
  }

  /** Consistency check and repair (see fsck.ts checkStore). Runs one at a time with gc. */
  async fsck (options?: FsckOptions): Promise<FsckReport> {
    this.#check(options)
    return await this.#maintenance(async () => await checkStore(this, options))
  }

  async #maintenance<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#maint.then(fn)
    this.#maint = run.then(() => {}, () => {})
    return await run
  }

  /** Flushes and closes (after a running gc or fsck). Idempotent. */
  async close (): Promise<void> {
    if (this.#closed) return
    await this.#maint
    if (this.#closed) return
    try {
      await this.#p.writer.commit(true)
    } finally {
      this.#closed = true
      await this.#p.files.close()
      await this.#p.index.close()
    }
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  #check (options?: AbortOptions): void {
    if (this.#closed) throw new StoreClosedError()
    options?.signal?.throwIfAborted()
  }
}
