import type { CID } from 'multiformats/cid'
import type { FsckOptions, FsckReport } from '../fsck.js'
import type { GcOptions, GcReport } from '../gc.js'
import { ChunkMissingError, PinNotFoundError, StoreClosedError } from '../errors.js'
import type { AbortOptions, AwaitIterable, Block, ChunkStore, PutManyOptions } from '../interface.js'
import { checkPinName, type Pin } from '../pins.js'
import { frameBlocksAsync, preparePayload, type PreparedChunk, type PreparedFrame } from '../prepare.js'
import { verifyChunk } from '../verify.js'
import { keyOf, type WriteGuard, type WriteLease } from './guard.js'
import type { FrameCache } from './frame-cache.js'
import type { IndexDb } from './index-db.js'
import type { PackFiles } from './pack-files.js'
import { MAX_BLOCK_BYTES } from './pack-format.js'
import { listPins, readPin, removePin, storeStats, writePin, type StoreStats } from './pin-index.js'
import { locate, readBlock, type Location } from './read.js'
import type { RecoveryReport } from './recover.js'
import type { PackTable, PackWriter } from './writer.js'


/** CIDs looked up per event-loop turn in missing(). */
const MISSING_BATCH = 256


/** The parts GC and fsck work on (not a public API). */
export interface StoreParts {
  readonly dir: string
  readonly files: PackFiles
  readonly index: IndexDb
  readonly table: PackTable
  readonly writer: PackWriter
  readonly guard: WriteGuard
  readonly frames: FrameCache
}

/** What putFramesMany stored. */
export interface FramesResult {
  /** Members indexed (new blocks). */
  stored: number
  /** Frame records written (a frame of one member is written as a block record and not counted). */
  frames: number
  /** Members written inside a frame but not indexed, because the store already had them (dead bytes). */
  duplicates: number
  /** Frames not written at all: the store had every member. */
  skipped: number
}

export { keyOf }
export type { Location, StoreStats }
export { openLocalStore, DEFAULT_PACK_SIZE_BYTES, type LocalStoreOptions } from './open.js'

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
    return await readBlock(this.#p, cid)
  }

  /** Where `cid` is stored, or undefined (see read.ts locate). */
  async locate (cid: CID): Promise<Location | undefined> { return locate(this.#p, cid) }

  /** Synchronous locate(). */
  locateSync (cid: CID): Location | undefined { return locate(this.#p, cid) }

  /** Idempotent. Verifies `bytes` against `cid` (CAS_CHUNK_INVALID). `bytes` stay the caller's. */
  async put (cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    this.#check(options)
    if (bytes.length > MAX_BLOCK_BYTES) throw new RangeError(`blocks are at most ${MAX_BLOCK_BYTES} bytes`)
    verifyChunk(cid, bytes)
    if (this.locateSync(cid) !== undefined) { this.#p.guard.touch(keyOf(cid)); return }
    const p = preparePayload(cid, bytes, this.#level)
    await this.#append(p.compressed ? p : { ...p, payload: new Uint8Array(bytes) }) // a copy (Buffer#slice would not copy)
  }

  /**
   * put for a batch: every block verified (CAS_CHUNK_INVALID, nothing of the batch stored),
   * those the store lacks stored in frames (frameBlocks: raw chunks in STORE_FRAME_RAW_BYTES frames, tree
   * nodes in 32 KiB ones), so blocks received by a pull or a push take the room an import's
   * would; the frames compress on libuv's thread pool (frameBlocksAsync), so a receiver goes on
   * decoding meanwhile and concurrent calls use every core. `bytes` stay the caller's and must
   * not change until it settles. Resolves how many blocks were new.
   */
  async putMany (blocks: readonly Block[], options?: PutManyOptions): Promise<number> {
    this.#check(options)
    for (const b of blocks) {
      if (b.bytes.length > MAX_BLOCK_BYTES) throw new RangeError(`blocks are at most ${MAX_BLOCK_BYTES} bytes`)
      if (options?.verified !== true) verifyChunk(b.cid, b.bytes)
    }
    const lacking: Block[] = []
    const seen = new Set<string>()
    for (const b of blocks) {
      const key = keyOf(b.cid)
      this.#p.guard.touch(key)
      if (seen.has(key) || locate(this.#p, b.cid, key) !== undefined) continue
      seen.add(key)
      lacking.push(b)
    }
    if (lacking.length === 0) return 0
    // The frames copy the members: the store never keeps the caller's arrays. putFramesMany
    // looks each member up again, so blocks another call stored meanwhile are not stored twice.
    return (await this.putFramesMany(await frameBlocksAsync(lacking, this.#level), options)).stored
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
   * putPrepared for a batch (the import pipeline's path): one synchronous pass of lookups and
   * appends, then one wait for buffer space. Same trust contract as putPrepared; the same
   * block twice in `ps` is stored once. Resolves how many blocks were stored.
   */
  async putPreparedMany (ps: readonly PreparedChunk[], options?: AbortOptions): Promise<number> {
    this.#check(options)
    const { guard, writer } = this.#p
    let stored = 0
    for (const p of ps) { // synchronous: no other put interleaves between lookup and append
      const key = keyOf(p.cid)
      guard.touch(key)
      if (locate(this.#p, p.cid, key) !== undefined) continue
      writer.append(key, p)
      stored++
    }
    await writer.backpressure()
    return stored
  }

  /**
   * Frames of blocks prepared by the caller (prepareFrame, or the ingest workers), under the
   * same trust contract as putPrepared: the member CIDs were computed from their bytes. One
   * synchronous pass: a frame whose members the store all holds is not written; otherwise the
   * frame is written whole and only its new members are indexed (the others are dead bytes,
   * counted in `duplicates`). The store owns the payloads afterwards, and calls each frame's
   * `release` once it no longer needs its payload (written and indexed, or skipped).
   */
  async putFramesMany (fs: readonly PreparedFrame[], options?: AbortOptions): Promise<FramesResult> {
    this.#check(options)
    const { guard, writer } = this.#p
    const r: FramesResult = { stored: 0, frames: 0, duplicates: 0, skipped: 0 }
    for (const f of fs) {
      const keys: Array<string | undefined> = []
      let fresh = 0
      for (const m of f.members) {
        const key = keyOf(m.cid)
        guard.touch(key)
        const isNew = locate(this.#p, m.cid, key) === undefined && !keys.includes(key)
        keys.push(isNew ? key : undefined)
        if (isNew) fresh++
      }
      if (fresh === 0) { r.skipped++; f.release?.(); continue }
      if (f.members.length === 1) { // a lone block: a plain block record (no member table, no frame to decompress on reads)
        writer.append(keys[0]!, { cid: f.members[0].cid, payload: f.payload, compressed: f.compressed, rawSize: f.members[0].rawSize }, f.release)
        r.stored++
        continue
      }
      r.stored += writer.appendFrame(f, keys)
      r.frames++
      r.duplicates += f.members.length - fresh
    }
    await writer.backpressure()
    return r
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
      const key = keyOf(cid)
      if (locate(this.#p, cid, key) !== undefined) this.#p.guard.touch(key); else out.push(cid)
    }
    return out
  }

  /** Makes every write so far durable (fsync of packs, then a synced index batch). */
  async flush (): Promise<void> {
    this.#check()
    await this.#p.writer.commit(true)
  }

  /**
   * Starts a write: blocks stored (put*) or found present (has, missing, put* of a present
   * block) until `release()` are safe from GC. A new tree that links to blocks it neither
   * stored nor checked (e.g. a subtree reused by CID) is safe only if they are pinned, so
   * check them with has() or missing() under the lease. Pin the root, then release.
   */
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
    await writePin(this.#p, name, root)
  }

  /** Removes a pin; resolves false when there was none. Its blocks go at the next gc(). */
  async unpin (name: string): Promise<boolean> {
    this.#check()
    checkPinName(name)
    return await removePin(this.#p, name)
  }

  /** Every pin, sorted by name. */
  async pins (): Promise<Pin[]> { this.#check(); return await listPins(this.#p) }

  /** The root pinned as `name`, or undefined. */
  async resolvePin (name: string): Promise<CID | undefined> { this.#check(); return await readPin(this.#p, name) }

  /** Like resolvePin, but rejects CAS_PIN_NOT_FOUND when absent. */
  async requirePin (name: string): Promise<CID> {
    const cid = await this.resolvePin(name)
    if (cid === undefined) throw new PinNotFoundError(name)
    return cid
  }

  /**
   * Chunks, bytes (raw, stored, on disk), pack files and pins. With `frames`, also counts the
   * frame records in use (one pass over the index).
   */
  async stats (options: { frames?: boolean } = {}): Promise<StoreStats> { this.#check(); return await storeStats(this.#p, options.frames === true) }

  /**
   * Garbage collection (see gc.ts collectGarbage): removes every block not reachable from a
   * pin and not protected by a write in flight. Runs one at a time with fsck.
   */
  async gc (options?: GcOptions): Promise<GcReport> {
    this.#check(options)
    // Loaded on use: most commands (an import) never collect, and this code is a fifth of the store's.
    const { collectGarbage } = await import('../gc.js')
    return await this.#maintenance(async () => await collectGarbage(this, options))
  }

  /** Consistency check and repair (see fsck.ts checkStore). Runs one at a time with gc. */
  async fsck (options?: FsckOptions): Promise<FsckReport> {
    this.#check(options)
    const { checkStore } = await import('../fsck.js') // loaded on use, as gc.ts
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
