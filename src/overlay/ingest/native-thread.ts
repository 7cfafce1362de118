import { CHUNKER_V1 } from '../../cas/chunker/cdc.js'
import { MIN_COMPRESS_BYTES, MIN_SAVING_BYTES } from '../../cas/compress-policy.js'
import { ensureGear, posix, type DirListing, type IngestHandle } from '../posix.js'
import type { CutsMessage, FileJob, ProbeMessage, ResultMessage, WorkerInit } from './protocol.js'

/** What a group of native threads posts to the event loop. */
export type NativeMessage = ResultMessage | ProbeMessage | CutsMessage | DirListing

/** Read window of a native ingest thread (the worker's WINDOW_BYTES). */
const WINDOW_BYTES = 4 * 1024 * 1024

/**
 * Ingest threads in native code (native/ingest-thread.c) sharing one job queue, driven with a
 * worker's protocol: jobs in (files, large files' cuts and ranges; no in-memory data), the
 * ingest/protocol.ts messages out to `onMessage` on this thread's event loop (a probe names
 * the thread that waits for its answer). They need no V8 isolate, so they start at once and
 * cost no CPU but the work itself. Keeps the event loop alive until terminate().
 */
export class NativeIngestThreads {
  readonly #handle: IngestHandle
  #closed = false
  #onMessage: (msg: NativeMessage) => void
  /** Messages that arrived while no handler was set (a group started before its pool). */
  #held: NativeMessage[] | undefined

  /**
   * `onMessage` undefined: messages are held until setHandler (a group started early, see
   * ingest/prestart-walk.ts, whose pool is made once the command's modules are loaded).
   */
  constructor (readonly init: WorkerInit, readonly threads: number, onMessage?: (msg: NativeMessage) => void) {
    this.#onMessage = onMessage ?? ((msg) => { this.#held!.push(msg) })
    if (onMessage === undefined) this.#held = []
    const P = posix()
    ensureGear()
    const { minSize, avgSize, maxSize } = CHUNKER_V1
    this.#handle = P.threadCreate({
      level: init.level, frameBytes: init.frameBytes, minCompress: MIN_COMPRESS_BYTES, minSaving: MIN_SAVING_BYTES,
      min: minSize, avg: avgSize, max: maxSize, windowBytes: WINDOW_BYTES, seen: new BigInt64Array(init.seen),
      probe: init.probe, maxInFlightBytes: init.maxInFlightBytes, threads
    }, (msg: NativeMessage) => { this.#onMessage(msg) })
  }

  /** Sets where messages go, first delivering those held so far (in order). */
  setHandler (onMessage: (msg: NativeMessage) => void): void {
    this.#onMessage = onMessage
    const held = this.#held ?? []
    this.#held = undefined
    for (const msg of held) onMessage(msg)
  }

  /**
   * Starts the walker over the directory `root` (a real path): listings and file jobs in walk
   * order, ids from `firstId` (native/ingest-walk.inc). Once per group.
   */
  walk (root: string, firstId: number, bigFileBytes: number): void {
    posix().threadWalk(this.#handle, root, { firstId, bigFileBytes })
    this.walkRoot = root
  }

  /** The root being walked, once walk() was called. */
  walkRoot: string | undefined

  /** Queues a batch of jobs for the next free thread; a result message follows once all of them are done. */
  post (jobs: readonly FileJob[]): void {
    if (jobs.some((j) => j.data !== undefined)) throw new TypeError('a native ingest thread takes files, not in-memory data')
    posix().threadPost(this.#handle, jobs)
  }

  /** Returns `bytes` of payload credit (stored by the pool). */
  release (bytes: number): void { if (!this.#closed) posix().threadCredit(this.#handle, bytes) }

  /** Frees a result message's payload buffer now (views of it become empty): once the store wrote all of it. */
  freeBuffer (buffer: ArrayBuffer): void { posix().threadFreeBuffer(buffer) }

  /** Answers probe `seq` of thread `thread`: `missing[i]` is 1 for each chunk the store lacks. */
  answer (thread: number, seq: number, missing: Uint8Array): void { if (!this.#closed) posix().threadAnswer(this.#handle, thread, seq, missing) }

  /** Stops the threads (each after the chunk it is on); undelivered messages are dropped. Idempotent. */
  async terminate (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    posix().threadClose(this.#handle)
  }
}
