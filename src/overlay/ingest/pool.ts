import { Worker } from 'node:worker_threads'
import type { CID } from 'multiformats/cid'
import { STORE_FRAME_RAW_BYTES, STORE_ZSTD_LEVEL } from '../../cas/compress-policy.js'
import type { PreparedChunk, PreparedFrame } from '../../cas/prepare.js'
import { ImportError } from '../errors.js'
import { FileIndexBuilder, type BlockSink, type FileContent } from '../file-write.js'
import type { FilePart } from '../interface.js'
import { cidFromBytes } from '../../cas/hasher.js'
import { answerProbe, decodeResult } from './messages.js'
import { NativeIngestThreads, type NativeMessage } from './native-thread.js'
import { BIG_FILE_BYTES, NATIVE_IN_FLIGHT_BYTES_PER_THREAD, SEEN_SLOTS, WALK_FIRST_ID } from './prestart-walk.js'
import type { DirListing } from '../posix.js'
import { adoptPrestarted, WORKER_URL } from './prestart.js'
import { MAX_PROBE_CHUNKS, type CutsMessage, type FileDone, type FileJob, type JobsMessage, type ProbeMessage, type ResultMessage, type WorkerInit } from './protocol.js'

/** A block sink that can also take chunks already hashed and compressed (LocalStore). */
export interface IngestSink extends BlockSink {
  putPrepared?: (p: PreparedChunk) => unknown
  /** Many at once (one index read): preferred when present. */
  putPreparedMany?: (ps: readonly PreparedChunk[]) => unknown
  /** Frames of several chunks (LocalStore): when present, workers gather new chunks into frames. */
  putFramesMany?: (fs: readonly PreparedFrame[]) => Promise<{ duplicates: number }>
  /** For probe mode (and the final check of deduplicated chunks): the CIDs the sink lacks. */
  missing?: (cids: CID[]) => AsyncIterable<CID>
}

export interface IngestPoolOptions {
  /** Worker threads (default 2: one per core here; the main thread stores and builds nodes). */
  readonly workers?: number
  /** zstd level of stored payloads (default 1). Forced to 0 when the sink has no putPrepared. */
  readonly level?: number
  /** Called with the content bytes of each stored chunk (progress). */
  readonly onBytes?: (n: number) => void
  /** Files from this size on are split across workers (default 64 MiB; for tests). */
  readonly bigFileBytes?: number
  /**
   * Ask the sink which chunks it lacks before compressing (needs `sink.missing`): worth it
   * when most content is already stored (re-imports, upgraded copies); a round trip per
   * batch otherwise.
   */
  readonly probe?: boolean
  /**
   * Where files' index nodes go (default: the sink). An import passes its BatchingSink, so
   * these nodes are stored in batches with the directory nodes instead of one put (and one
   * hash check) each.
   */
  readonly nodeSink?: BlockSink
  /**
   * Native ingest threads (native/ingest-thread.c) instead of worker threads: no V8 isolate to
   * start, nothing but the work itself. Files only: submitData then throws (tar imports).
   */
  readonly native?: boolean
  /**
   * A group of native threads started before the pool (ingest/prestart-walk.ts), adopted when
   * it was made with this pool's settings (else closed, and a new group made).
   */
  readonly group?: NativeIngestThreads
}

/**
 * Counts of a pool. `duplicateChunks`: chunks written inside a frame that the store already
 * held (dead bytes; they occur when the dedup table is full or two imports race).
 */
export interface IngestCounters { files: number, bytes: number, chunks: number, frames: number, duplicateChunks: number }

const BATCH_FILES = 64
const BATCH_BYTES = 4 * 1024 * 1024
const BATCHES_IN_FLIGHT = 4
/** Batches queued for a group of native threads (they share the queue, so depth costs no balance). */
const NATIVE_BATCHES_IN_FLIGHT = 64
const MAX_IN_FLIGHT_BYTES = NATIVE_IN_FLIGHT_BYTES_PER_THREAD
/**
 * Walker files the threads finished before the walk (this thread) claimed them: past this
 * many, results wait (and the threads with them, on credit) until the walk catches up to
 * half as many. Without it the walk fell ever further behind on many small files, and every
 * finished file waited with its promise and CID (100,000 files of 8 KiB: 36,000 of them,
 * peak RSS 346 MB; a directory walk costs this thread more per file than storing results).
 * Never while the walk waits for a listing: the walker may be waiting for the threads to take
 * its queued files before it posts one (a subdirectory named before 20,000 files deadlocked).
 */
const MAX_UNCLAIMED_FILES = 4096

/** Where a job's chunks go in order: a file's index, or (range jobs) a plain list. */
interface PartSink { add: (cid: CID, size: number) => Promise<void> | undefined, finish: () => Promise<unknown> | unknown }
class PartList implements PartSink {
  readonly parts: FilePart[] = []
  add (cid: CID, size: number): undefined { this.parts.push({ cid, size }) }
  finish (): FilePart[] { return this.parts }
}
/** The builder of walker files, which get their index from their thread (never added to). */
const NO_PARTS = new PartList()
interface Pending {
  job: FileJob, size: number, builder: PartSink, resolve: (v: any) => void, reject: (e: unknown) => void, cuts?: Uint32Array
  /** A file the native walker queued, seen before the walk claimed it (see WalkedFile). */
  walked?: WalkedFile
}

/**
 * Who a claimed walker file reports to (IngestPool.claim): a directory of the walk, told the
 * file's index in its listing. One object per directory, not a promise and closures per file.
 */
export interface ClaimTarget {
  content (index: number, content: FileContent): void
  fail (error: unknown): void
}

/**
 * A walker's file, made when its result or the walk's claim comes first; it is the file's
 * Pending entry itself. Its outcome goes to a ClaimTarget (claim) or a promise (expect) only
 * once claimed: a file finished before that keeps just its outcome, so an import of many
 * small files holds no promise (nor a handler against unhandled rejection) per file. Methods,
 * not closures: a directory of 50,000 files has 50,000 of these waiting.
 */
class WalkedFile implements Pending {
  readonly job: FileJob
  size = 0
  readonly builder: PartSink = NO_PARTS
  claimed = false
  settled = false
  #outcome: { content: FileContent } | { error: unknown } | undefined
  #target: ClaimTarget | undefined
  #index = 0

  constructor (id: number) { this.job = { id } }

  get walked (): WalkedFile { return this }

  /** The file's content, for the walk (once): claimTo with a promise as the target. */
  claim (): Promise<FileContent> {
    return new Promise<FileContent>((resolve, reject) => { this.claimTo({ content: (_i, c) => { resolve(c) }, fail: reject }, 0) })
  }

  /** Has the outcome go to `target` as entry `index` (at once when known). */
  claimTo (target: ClaimTarget, index: number): void {
    this.claimed = true
    this.#target = target
    this.#index = index
    if (this.#outcome !== undefined) this.#tell(this.#outcome)
  }

  resolve (content: FileContent): void { this.#settle({ content }) }
  reject (error: unknown): void { this.#settle({ error }) }

  #settle (outcome: { content: FileContent } | { error: unknown }): void {
    if (this.#outcome !== undefined) return
    this.#outcome = outcome
    if (this.#target !== undefined) this.#tell(outcome)
  }

  #tell (outcome: { content: FileContent } | { error: unknown }): void {
    const target = this.#target!
    this.#target = undefined
    if ('error' in outcome) target.fail(outcome.error); else target.content(this.#index, outcome.content)
  }
}

/** Content per range job of a large file. */
const RANGE_BYTES = 16 * 1024 * 1024
/** A worker thread or a native ingest thread, as the pool drives it. */
interface Slot {
  readonly post: (jobs: FileJob[]) => void
  /** Returns payload credit (bytes stored). */
  readonly release: (bytes: number) => void
  /** Delivers the answer to a probe (`flags`: 1 = missing). */
  readonly answer: (probe: ProbeMessage) => void
  readonly flags: Uint8Array
  /** Batches it may have in flight. */
  readonly capacity: number
  readonly terminate: () => Promise<unknown>
  readonly batches: number[]
}

/**
 * Reads, chunks, hashes and compresses files on worker threads and stores the chunks from
 * the main thread, in file order, building each file's index. `submit` never blocks the
 * caller's reading of directories; memory is bounded by the shared credit (payload bytes
 * posted and not yet stored) and by the batch limits. Close it with `close()`.
 */
export class IngestPool {
  readonly counters: IngestCounters = { files: 0, bytes: 0, chunks: 0, frames: 0, duplicateChunks: 0 }
  readonly #sink: IngestSink
  readonly #nodeSink: BlockSink
  readonly #slots: Slot[] = []
  readonly #queue: Pending[] = []
  readonly #files = new Map<number, Pending>()
  readonly #batchOf = new Map<number, { slot: Slot, left: number }>()
  readonly #prepared: boolean
  readonly #onBytes: ((n: number) => void) | undefined
  #waiters: Array<() => void> = []
  #dataBytes = 0
  readonly #bigFileBytes: number
  readonly #rangeBytes: number
  readonly #native: boolean
  /** Threads doing the work (worker threads or native threads). */
  readonly #threads: number
  #nextId = 1
  #chain: Promise<void> = Promise.resolve()
  /** Walker files finished and not yet claimed by expect(), and who waits for that to fall. */
  #unclaimed = 0
  #claimWaiter: (() => void) | undefined
  #failure: unknown
  /** Chunks a worker did not store because the import had already recorded them (checked by checkSeen). */
  #seen: CID[] = []
  /** The native group (native pools), for its walker. */
  #group: NativeIngestThreads | undefined
  #listings: DirListing[] = []
  #listingWaiter: { resolve: (l: DirListing) => void, reject: (e: unknown) => void } | undefined

  constructor (sink: IngestSink, options: IngestPoolOptions = {}) {
    this.#sink = sink
    this.#nodeSink = options.nodeSink ?? sink
    this.#prepared = typeof sink.putPrepared === 'function'
    this.#onBytes = options.onBytes
    this.#bigFileBytes = options.bigFileBytes ?? BIG_FILE_BYTES
    this.#rangeBytes = Math.min(RANGE_BYTES, Math.max(1 << 20, this.#bigFileBytes / 4))
    const level = this.#prepared ? (options.level ?? STORE_ZSTD_LEVEL) : 0
    const probe = options.probe === true && typeof sink.missing === 'function'
    const frameBytes = typeof sink.putFramesMany === 'function' ? STORE_FRAME_RAW_BYTES : 0
    const seen = new SharedArrayBuffer((SEEN_SLOTS + 1) * 8)
    this.#native = options.native === true
    const workers = options.workers ?? 2
    this.#threads = workers
    // Native threads form one slot (they share its job queue); worker threads one slot each.
    for (let i = 0; i < (this.#native ? 1 : workers); i++) {
      const credit = new SharedArrayBuffer(4)
      const answer = new SharedArrayBuffer(8 + MAX_PROBE_CHUNKS)
      const maxInFlightBytes = MAX_IN_FLIGHT_BYTES * (this.#native ? workers : 1)
      const init: WorkerInit = { credit, level, maxInFlightBytes, probe, answer, frameBytes, seen }
      const onMessage = (msg: NativeMessage): void => {
        if (msg.type === 'dir') { this.#listing(msg); return }
        if (msg.type === 'probe') { void this.#answer(slot, msg); return }
        this.#chain = this.#chain.then(async () => {
          if (this.#unclaimed > MAX_UNCLAIMED_FILES && this.#listingWaiter === undefined) await new Promise<void>((resolve) => { this.#claimWaiter = resolve })
          if (msg.type === 'cuts') { const p = this.#files.get(msg.file); if (p !== undefined) p.cuts = msg.lengths } else await this.#consume(slot, msg)
        })
      }
      let slot: Slot
      if (this.#native) {
        let group = options.group
        if (group !== undefined && !sameSettings(group, init, workers)) { void group.terminate(); group = undefined }
        this.#group = group ?? new NativeIngestThreads(init, workers)
        slot = nativeSlot(this.#group)
      } else {
        slot = workerSlot(init, onMessage, (err) => { this.#fail(new ImportError('ingest worker failed', { cause: err })) })
      }
      this.#slots.push(slot)
      // Now that `slot` is set: a prestarted group delivers what it holds at once.
      this.#group?.setHandler(onMessage)
    }
  }

  /**
   * Starts the native walker over `root` (a real path; see Posix.threadWalk) unless the
   * adopted group already walks it: the walk's listings come from nextListing(), and its file
   * jobs are queued at once (claim each with expect()). Native pools only.
   */
  walk (root: string): void {
    if (this.#group === undefined) throw new TypeError('walk needs a native pool')
    if (this.#group.walkRoot === root) return
    this.#group.walk(root, WALK_FIRST_ID, this.#threads > 1 ? this.#bigFileBytes : Infinity)
  }

  /** The walker's next directory listing, in walk order. Rejects once the pool failed. */
  async nextListing (): Promise<DirListing> {
    const next = this.#listings.shift()
    if (next !== undefined) return next
    if (this.#failure !== undefined) throw this.#failure
    const waiting = new Promise<DirListing>((resolve, reject) => { this.#listingWaiter = { resolve, reject } })
    this.#wakeConsumer() // results must flow for the walker to go on (MAX_UNCLAIMED_FILES)
    return await waiting
  }

  #listing (msg: DirListing): void {
    const w = this.#listingWaiter
    if (w !== undefined) { this.#listingWaiter = undefined; w.resolve(msg) } else this.#listings.push(msg)
  }

  /**
   * The content of the walker's file `id` (a DirListing's ids[i]): resolves like submit, also
   * when the threads finished it before the walk got here.
   */
  expect (id: number): Promise<FileContent> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    const w = this.#claimed(id)
    const content = w.claim()
    this.#claimDone(id, w)
    return content
  }

  /**
   * Like expect, but the content (or the failure) of walker file `id` goes to `target` as
   * entry `index`: at once when the file is done, else when it is.
   */
  claim (id: number, target: ClaimTarget, index: number): void {
    if (this.#failure !== undefined) { target.fail(this.#failure); return }
    const w = this.#claimed(id)
    w.claimTo(target, index)
    this.#claimDone(id, w)
  }

  #claimed (id: number): WalkedFile {
    return (this.#files.get(id) ?? this.#walkedFile(id)).walked!
  }

  /** A claimed file that was already done leaves the table (and the unclaimed count). */
  #claimDone (id: number, w: WalkedFile): void {
    if (!w.settled) return
    this.#files.delete(id)
    if (--this.#unclaimed <= MAX_UNCLAIMED_FILES / 2) this.#wakeConsumer()
  }

  /** The entry of walker file `id`, made when its first chunk or its end arrives (or the walk claims it). */
  #walkedFile (id: number): Pending {
    const p = new WalkedFile(id)
    this.#files.set(id, p)
    return p
  }

  /** Files submitted and not yet finished. */
  get pending (): number { return this.#files.size }

  /**
   * Resolves once at most `max` files (and at most `maxDataBytes` of submitData content) are
   * pending: lets a producer stay a bounded distance ahead.
   */
  async waitBelow (max: number, maxDataBytes = Infinity): Promise<void> {
    while ((this.#files.size > max || this.#dataBytes > maxDataBytes) && this.#failure === undefined) {
      await new Promise<void>((resolve) => { this.#waiters.push(resolve) })
    }
    if (this.#failure !== undefined) throw this.#failure
  }

  /**
   * Queues the regular file at `path` (`size` from lstat, a scheduling hint only). Resolves
   * its content reference once every chunk and index node is in the sink; rejects
   * ImportError if it cannot be read.
   */
  submit (path: string, size: number): Promise<FileContent> {
    if (size >= this.#bigFileBytes && this.#threads > 1) return this.#submitBig(path)
    return this.#enqueue({ id: this.#nextId++, path }, size, new FileIndexBuilder(this.#nodeSink))
  }

  /**
   * A large file: one worker finds its chunk boundaries (cheap, the same cuts as streaming),
   * then every worker hashes and compresses a share of ranges, and the index is built here in
   * order. One file then uses every core.
   */
  async #submitBig (path: string): Promise<FileContent> {
    // The cut pass goes first in the queue: it is serial, and run early the other workers
    // still have small files to do meanwhile (at its turn in walk order, near the end of a
    // tree, they would sit idle waiting for its ranges).
    const lengths = await this.#enqueue({ id: this.#nextId++, path, cutsOnly: true }, 0, new PartList(), true) as unknown as Uint32Array
    const ranges: Array<Promise<FilePart[]>> = []
    let offset = 0
    for (let i = 0; i < lengths.length;) {
      let j = i
      let bytes = 0
      while (j < lengths.length && (j === i || bytes + lengths[j] <= this.#rangeBytes)) bytes += lengths[j++]
      const range = this.#enqueue({ id: this.#nextId++, path, offset, lengths: lengths.slice(i, j) }, bytes, new PartList()) as unknown as Promise<FilePart[]>
      range.catch(() => {})
      ranges.push(range)
      offset += bytes
      i = j
    }
    const builder = new FileIndexBuilder(this.#nodeSink)
    for (const range of ranges) for (const part of await range) await builder.add(part.cid, part.size)
    if (builder.size !== offset) throw new ImportError(`${path} changed while being read`)
    this.counters.files++
    return await builder.finish()
  }

  /**
   * Queues content held in memory (e.g. a tar member). `data` must own its whole buffer,
   * which is transferred to a worker (unusable here afterwards). Resolves like submit.
   */
  submitData (data: Uint8Array): Promise<FileContent> {
    if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) throw new RangeError('submitData needs a Uint8Array that owns its buffer')
    if (this.#native) throw new TypeError('submitData needs a pool of worker threads (options.native is set)')
    this.#dataBytes += data.byteLength
    return this.#enqueue({ id: this.#nextId++, data: data.buffer as ArrayBuffer }, data.byteLength, new FileIndexBuilder(this.#nodeSink))
  }

  /** Bytes of submitData content not yet finished. */
  get pendingDataBytes (): number { return this.#dataBytes }

  #enqueue (job: FileJob, size: number, builder: PartSink, first = false): Promise<FileContent> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => {
      const p: Pending = { job, size, builder, resolve, reject }
      this.#files.set(job.id, p)
      if (first) this.#queue.unshift(p); else this.#queue.push(p)
      this.#dispatch()
    })
  }

  #dispatch (): void {
    while (this.#queue.length > 0) {
      const slot = this.#slots.reduce((a, b) => (b.batches.length < a.batches.length ? b : a))
      if (slot.batches.length >= slot.capacity) return
      const jobs: FileJob[] = []
      let bytes = 0
      while (this.#queue.length > 0 && jobs.length < BATCH_FILES && bytes < BATCH_BYTES) {
        const p = this.#queue.shift()!
        jobs.push(p.job)
        bytes += p.size
      }
      const batch = { slot, left: jobs.length }
      for (const j of jobs) this.#batchOf.set(j.id, batch)
      slot.batches.push(jobs.length)
      slot.post(jobs)
    }
  }

  /** Answers a worker's probe (it waits on the shared answer word). */
  async #answer (slot: Slot, msg: ProbeMessage): Promise<void> {
    await answerProbe(msg, (cids) => this.#sink.missing!(cids), slot.flags)
    slot.answer(msg)
  }

  async #consume (slot: Slot, msg: ResultMessage): Promise<void> {
    try {
      // A native thread's message buffer is freed as soon as the store has written every
      // record in it: its pages go to the next message instead of new ones (t1: fewer page
      // faults and less external memory for V8 to collect).
      const { chunks, records } = decodeResult(msg, this.#group !== undefined ? () => { this.#group?.freeBuffer(msg.buffer) } : undefined)
      const sink = this.#sink
      if (sink.putFramesMany !== undefined) {
        const r = await sink.putFramesMany(records)
        this.counters.duplicateChunks += r.duplicates
      } else {
        // Workers make one-member records for such sinks (WorkerInit.frameBytes 0).
        const fresh: PreparedChunk[] = records.map((f) => ({ cid: f.members[0].cid, payload: f.payload, compressed: f.compressed, rawSize: f.members[0].rawSize }))
        if (sink.putPreparedMany !== undefined) await sink.putPreparedMany(fresh)
        else for (const p of fresh) await (this.#prepared ? sink.putPrepared!(p) : sink.put(p.cid, p.payload))
      }
      this.counters.frames += records.length
      for (const c of chunks) {
        if (c.state === 'seen') this.#seen.push(c.cid)
        // A walker's file gets its index from its thread (FileDone.content): only counted here.
        if (c.file < WALK_FIRST_ID) {
          const p = this.#files.get(c.file)
          if (p === undefined) continue
          const writing = p.builder.add(c.cid, c.rawSize)
          if (writing !== undefined) await writing
        }
        this.counters.chunks++
        this.counters.bytes += c.rawSize
        this.#onBytes?.(c.rawSize)
      }
      for (const d of msg.done) await this.#finishFile(d.file, d.error, d.content)
    } catch (err) {
      this.#fail(err)
    } finally {
      slot.release(msg.bytes)
    }
  }

  /**
   * Call once every submitted file has finished: rejects ImportError when the sink lacks a
   * chunk that a worker left out because this import had already recorded it (only a
   * collision of the dedup table's 64-bit keys could cause that). Needs `sink.missing`.
   */
  async checkSeen (): Promise<void> {
    const seen = this.#seen
    this.#seen = []
    if (seen.length === 0 || this.#sink.missing === undefined) return
    for await (const cid of this.#sink.missing(seen)) throw new ImportError(`chunk ${cid} was deduplicated but never stored (dedup table collision); import again`)
  }

  async #finishFile (id: number, error?: FileDone['error'], content?: FileDone['content']): Promise<void> {
    const p = this.#files.get(id) ?? (id >= WALK_FIRST_ID && this.#failure === undefined ? this.#walkedFile(id) : undefined)
    const batch = this.#batchOf.get(id)
    if (p?.job.data !== undefined) this.#dataBytes -= p.size
    // A walker's file stays listed until the walk claims it (expect), which then needs its outcome.
    if (p?.walked !== undefined && !p.walked.claimed) { p.walked.settled = true; this.#unclaimed++ } else this.#files.delete(id)
    this.#batchOf.delete(id)
    if (batch !== undefined && --batch.left === 0) { batch.slot.batches.shift(); this.#dispatch() }
    if (this.#waiters.length > 0) { const w = this.#waiters; this.#waiters = []; for (const f of w) f() }
    if (p === undefined) return
    if (error !== undefined) { p.reject(new ImportError(`cannot read ${error.path ?? p.job.path}: ${error.message}`)); return }
    if (p.job.cutsOnly === true) { p.resolve(p.cuts ?? new Uint32Array(0)); return }
    if (p.job.lengths === undefined) this.counters.files++
    if (content !== undefined) { p.resolve(await this.#walkedContent(content)); return }
    const built = p.builder.finish()
    p.resolve(built instanceof Promise ? await built : built)
  }

  /** Stores the index nodes a thread built for a walker's file; its content reference. */
  async #walkedContent (content: NonNullable<FileDone['content']>): Promise<FileContent> {
    const nodes = content.nodes
    for (let at = 0; nodes !== undefined && at < nodes.length;) {
      const cid = cidFromBytes(nodes.subarray(at, at + 36))
      const length = nodes[at + 36] | (nodes[at + 37] << 8) | (nodes[at + 38] << 16) | (nodes[at + 39] << 24)
      await this.#nodeSink.put(cid, nodes.subarray(at + 40, at + 40 + length))
      at += 40 + length
    }
    return content.cid === undefined ? { size: content.size } : { cid: cidFromBytes(content.cid), size: content.size }
  }

  #wakeConsumer (): void {
    const w = this.#claimWaiter
    this.#claimWaiter = undefined
    w?.()
  }

  #fail (err: unknown): void {
    if (this.#failure === undefined) this.#failure = err
    this.#unclaimed = 0
    this.#wakeConsumer()
    for (const p of this.#files.values()) p.reject(err)
    this.#files.clear()
    this.#dataBytes = 0
    this.#queue.length = 0
    const w = this.#waiters; this.#waiters = []; for (const f of w) f()
    const l = this.#listingWaiter
    this.#listingWaiter = undefined
    l?.reject(err)
  }

  /** Stops the workers. Pending files reject. Idempotent. */
  async close (): Promise<void> {
    this.#fail(new ImportError('ingest pool closed'))
    await Promise.all(this.#slots.map(async (s) => await s.terminate()))
    this.#slots.length = 0
  }
}

/** A slot over a worker thread (ingest/worker.ts), prestarted when one is waiting. */
function workerSlot (init: WorkerInit, onMessage: (msg: ResultMessage | ProbeMessage | CutsMessage) => void, onError: (err: unknown) => void): Slot {
  const worker = adoptPrestarted(init) ?? new Worker(WORKER_URL, { workerData: init })
  const credit = new Int32Array(init.credit)
  const answer = new Int32Array(init.answer, 0, 2)
  worker.on('message', onMessage)
  worker.on('error', onError)
  return {
    post: (jobs) => {
      const msg: JobsMessage = { type: 'jobs', jobs }
      worker.postMessage(msg, jobs.flatMap((j) => j.data !== undefined ? [j.data] : []))
    },
    release: (bytes) => { Atomics.sub(credit, 0, bytes); Atomics.notify(credit, 0) },
    answer: (probe) => { Atomics.store(answer, 0, probe.seq); Atomics.notify(answer, 0) },
    flags: new Uint8Array(init.answer, 8),
    capacity: BATCHES_IN_FLIGHT,
    terminate: async () => await worker.terminate(),
    batches: []
  }
}

/**
 * A slot over `threads` native ingest threads sharing one job queue (files only): a thread
 * takes the next batch whenever it is free.
 */
function nativeSlot (group: NativeIngestThreads): Slot {
  const flags = new Uint8Array(MAX_PROBE_CHUNKS)
  return {
    post: (jobs) => { group.post(jobs) },
    release: (bytes) => { group.release(bytes) },
    answer: (probe) => { group.answer(probe.thread ?? 0, probe.seq, flags) },
    flags,
    // Jobs are small and the threads' output is bounded by credit: queue deep, so a thread
    // never waits for this (busy) thread to hand out the next batch.
    capacity: NATIVE_BATCHES_IN_FLIGHT,
    terminate: async () => { await group.terminate() },
    batches: []
  }
}

/** Whether a group was made with the settings `init` and `threads` describe (its seen table and credit are its own). */
function sameSettings (group: NativeIngestThreads, init: WorkerInit, threads: number): boolean {
  const g = group.init
  return group.threads === threads && g.level === init.level && g.frameBytes === init.frameBytes && g.probe === init.probe && g.maxInFlightBytes === init.maxInFlightBytes
}
