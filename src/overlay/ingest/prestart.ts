import { Worker } from 'node:worker_threads'

/** workerData of a worker started before its pool: it waits for its WorkerInit (see worker.ts). */
export interface DeferredInit {
  /** Int32 flag over a SharedArrayBuffer: 0 until the pool has posted the WorkerInit. */
  readonly deferred: SharedArrayBuffer
}

interface Prestarted { readonly worker: Worker, readonly flag: Int32Array }
const ready: Prestarted[] = []

/** URL of the worker module (one place, for the pool and for prestarting). */
export const WORKER_URL = new URL('./worker.js', import.meta.url)

/**
 * Starts `count` ingest workers ahead of an import, so they load their modules while this
 * thread loads the rest of the program (a worker takes ~100 ms to start; the CLI calls this
 * before loading the import command). An IngestPool adopts them; unadopted ones do not keep
 * the process alive. Light on purpose: this module imports nothing else of xeno.
 */
export function prestartIngestWorkers (count = 2): void {
  while (ready.length < count) {
    const shared = new SharedArrayBuffer(4)
    const worker = new Worker(WORKER_URL, { workerData: { deferred: shared } satisfies DeferredInit })
    const entry = { worker, flag: new Int32Array(shared) }
    // Until adopted, a failure only drops the worker (the pool then starts a fresh one).
    worker.once('error', () => { const i = ready.indexOf(entry); if (i >= 0) ready.splice(i, 1) })
    worker.unref()
    ready.push(entry)
  }
}

/**
 * A prestarted worker, given its init message (posted before it is released), or undefined
 * when none is waiting. The caller owns it (it is ref'd again).
 */
export function adoptPrestarted (init: unknown): Worker | undefined {
  const entry = ready.shift()
  if (entry === undefined) return undefined
  entry.worker.removeAllListeners('error')
  entry.worker.ref()
  entry.worker.postMessage(init)
  Atomics.store(entry.flag, 0, 1)
  Atomics.notify(entry.flag, 0)
  return entry.worker
}
