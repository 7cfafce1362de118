import type { PreparedChunk, PreparedFrame } from '../prepare.js'
import type { Counters, IndexDb, IndexOp, PackState } from './index-db.js'
import type { PackFiles } from './pack-files.js'
import { encodeEntry, encodeFrameHead, encodeRecordHead, FLAG_ZSTD, MAX_BLOCK_BYTES, storedBytesOf, type IndexEntry } from './pack-format.js'

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

/** A block appended but not yet in the index: readable from memory until committed. */
export interface PendingRecord {
  /** Binary CID (the index key) and its map key string. */
  readonly key: Uint8Array
  readonly keyText: string
  readonly entry: IndexEntry
  /** The payload of its record (for a frame member, the whole frame's payload). */
  readonly payload: Uint8Array
}

/** A record waiting to be written: header bytes, payload, and the blocks it indexes. */
interface QueuedRecord {
  readonly pack: number
  readonly offset: number
  readonly head: Uint8Array
  readonly payload: Uint8Array
  readonly blocks: PendingRecord[]
  /** Called once the record is written and indexed (PreparedFrame.release). */
  readonly release?: () => void
}

/**
 * Schedule a write of buffered records once this many bytes wait (one writev each). The
 * records are views of the import threads' message buffers, which stay allocated until
 * written: 8 and 24 MiB held up to ~48 MiB of them at an import's peak; 4 and 8 MiB cut the
 * peak RSS of 100,000 small files by ~25 MiB at the same CPU (t1 too).
 */
const WRITE_BEHIND_BYTES = 4 * 1024 * 1024
/** Appenders wait when this many bytes wait: bounds the store's buffers to ~2x this. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024

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
  #queue: QueuedRecord[] = []
  #queuedBytes = 0
  #chain: Promise<void> = Promise.resolve()
  /** A write-behind commit is queued and has not yet taken the queue. */
  #scheduled = false
  #failure: unknown

  constructor (files: PackFiles, index: IndexDb, table: PackTable, packLimitBytes: number) {
    this.#files = files; this.#index = index; this.#table = table; this.#packLimit = packLimitBytes
  }

  /**
   * Appends a prepared block under map key `key` (synchronous: no other append interleaves);
   * `release` is called once it is written and indexed.
   */
  append (key: string, p: PreparedChunk, release?: () => void): PendingRecord {
    if (this.#failure !== undefined) throw this.#failure
    if (p.rawSize > MAX_BLOCK_BYTES || p.payload.length > MAX_BLOCK_BYTES) throw new RangeError(`blocks are at most ${MAX_BLOCK_BYTES} bytes`)
    const cidBytes = p.cid.bytes
    const flags = p.compressed ? FLAG_ZSTD : 0
    const head = encodeRecordHead(cidBytes, flags, p.rawSize, p.payload.length)
    const { pack, offset } = this.#place(head.length + p.payload.length)
    const rec: PendingRecord = { key: cidBytes, keyText: key, entry: { pack, offset, length: p.payload.length, flags, rawSize: p.rawSize, frame: undefined }, payload: p.payload }
    this.pending.set(key, rec)
    this.#enqueue({ pack, offset, head, payload: p.payload, blocks: [rec], release })
    return rec
  }

  /**
   * Appends a frame record holding every member of `f`, and indexes the members whose map
   * key is given in `keys` (`undefined` for a member the store already holds: its bytes are
   * dead weight in the frame). Synchronous, like append. Resolves how many were indexed.
   */
  appendFrame (f: PreparedFrame, keys: ReadonlyArray<string | undefined>): number {
    if (this.#failure !== undefined) throw this.#failure
    if (f.payload.length > MAX_BLOCK_BYTES) throw new RangeError(`blocks are at most ${MAX_BLOCK_BYTES} bytes`)
    const flags = f.compressed ? FLAG_ZSTD : 0
    const members = f.members.map((m) => ({ cidBytes: m.cid.bytes, rawSize: m.rawSize }))
    const head = encodeFrameHead(members, flags, f.payload.length)
    const { pack, offset } = this.#place(head.length + f.payload.length)
    let frameRaw = 0
    for (const m of members) frameRaw += m.rawSize
    const blocks: PendingRecord[] = []
    let at = 0
    for (let i = 0; i < members.length; i++) {
      const key = keys[i]
      if (key !== undefined && !this.pending.has(key)) {
        const rec: PendingRecord = { key: members[i].cidBytes, keyText: key, entry: { pack, offset, length: f.payload.length, flags, rawSize: members[i].rawSize, frame: { at, rawSize: frameRaw, payloadAt: head.length } }, payload: f.payload }
        this.pending.set(key, rec)
        blocks.push(rec)
      }
      at += members[i].rawSize
    }
    this.#enqueue({ pack, offset, head, payload: f.payload, blocks, release: f.release })
    return blocks.length
  }

  /** Where a record of `length` bytes goes (rolls the active pack when it would overflow). */
  #place (length: number): { pack: number, offset: number } {
    const t = this.#table
    if (t.activeSize > 0 && t.activeSize + length > this.#packLimit) { t.activePack = t.nextPack++; t.activeSize = 0 }
    const at = { pack: t.activePack, offset: t.activeSize }
    t.activeSize += length
    return at
  }

  #enqueue (r: QueuedRecord): void {
    this.#queue.push(r)
    this.#queuedBytes += r.head.length + r.payload.length
    if (this.#queuedBytes >= WRITE_BEHIND_BYTES && !this.#scheduled) {
      this.#scheduled = true
      this.commit(false).catch(() => {}) // a failure is kept in #failure and rethrown to the next caller
    }
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
      const touched = new Set<number>()
      for (const r of batch) {
        const end = r.offset + r.head.length + r.payload.length
        const state = t.packs.get(r.pack) ?? { tail: 0 }
        if (end > state.tail) state.tail = end
        t.packs.set(r.pack, state)
        touched.add(r.pack)
        for (const b of r.blocks) {
          ops.push({ type: 'put', sublevel: 'chunks', key: b.key, value: encodeEntry(b.entry) })
          countEntry(t.counters, b.entry, b.key.length, 1)
        }
      }
      for (const n of touched) ops.push({ type: 'put', sublevel: 'meta', key: `pack/${n}`, value: t.packs.get(n) })
      if (batch.length > 0 || durable) ops.push({ type: 'put', sublevel: 'meta', key: 'counters', value: t.counters })
      await this.#index.batch(ops, durable)
      for (const r of batch) for (const b of r.blocks) if (this.pending.get(b.keyText) === b) this.pending.delete(b.keyText)
      for (const r of batch) r.release?.()
    } catch (err) {
      this.#failure = err // a half-written batch must not be followed by more appends
      throw err
    }
  }

  async #writeRecords (batch: QueuedRecord[]): Promise<void> {
    let i = 0
    while (i < batch.length) {
      const first = batch[i]
      const buffers: Uint8Array[] = []
      let end = first.offset
      while (i < batch.length && batch[i].pack === first.pack && batch[i].offset === end) {
        buffers.push(batch[i].head, batch[i].payload)
        end += batch[i].head.length + batch[i].payload.length
        i++
      }
      await this.#files.write(first.pack, first.offset, buffers)
    }
  }
}

/** Adds (`sign` 1) or removes (-1) an index entry of a block with a `cidLength`-byte CID from `c`. */
export function countEntry (c: Counters, e: IndexEntry, cidLength: number, sign: 1 | -1): void {
  c.chunks += sign
  c.rawBytes += sign * e.rawSize
  c.storedBytes += sign * storedBytesOf(e, cidLength)
  if (e.frame !== undefined) c.framedChunks = (c.framedChunks ?? 0) + sign
}
