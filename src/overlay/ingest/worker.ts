import { closeSync, constants, openSync, readSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { CHUNKER_V1, GEAR } from '../../cas/chunker/cdc.js'
import { prepareChunk } from '../../cas/prepare.js'
import { posix } from '../posix.js'
import type { ChunkRecord, FileDone, FileJob, JobsMessage, ResultMessage, WorkerInit } from './protocol.js'

/**
 * Ingest worker: for each job, reads the file (small files in one read, large ones through
 * a fixed window, so memory is flat whatever the size), cuts it with the pinned FastCDC
 * parameters, hashes and compresses every chunk (prepareChunk), and posts the prepared
 * chunks in file order, packed into transferred buffers. Synchronous inside: it blocks on
 * the shared credit counter when the main thread lags (backpressure).
 */
const init = workerData as WorkerInit
const credit = new Int32Array(init.credit)
const port = parentPort
if (port === null) throw new Error('ingest worker must run in a worker thread')

const WINDOW_BYTES = 4 * 1024 * 1024
const OUT_BYTES = 4 * 1024 * 1024
const { minSize, avgSize, maxSize } = CHUNKER_V1
const window = new Uint8Array(WINDOW_BYTES)
// The cut search runs in C (native/posix.c cdcCuts, same cuts as cdc.ts findBoundary).
const P = posix()
P.cdcInit(GEAR)

let out = new Uint8Array(OUT_BYTES)
let outPos = 0
let chunks: ChunkRecord[] = []
let done: FileDone[] = []

function flush (): void {
  if (chunks.length === 0 && done.length === 0) return
  // Mostly empty buffers are shrunk before the transfer, so credit counts real memory.
  const buffer = outPos < OUT_BYTES / 2 ? out.slice(0, outPos).buffer : out.buffer
  for (;;) {
    const inFlight = Atomics.load(credit, 0)
    if (inFlight <= init.maxInFlightBytes) break
    Atomics.wait(credit, 0, inFlight, 1000)
  }
  Atomics.add(credit, 0, buffer.byteLength)
  const msg: ResultMessage = { type: 'result', buffer, chunks, done, bytes: buffer.byteLength }
  port!.postMessage(msg, [buffer])
  if (buffer === out.buffer) out = new Uint8Array(OUT_BYTES)
  outPos = 0
  chunks = []
  done = []
}

function emit (file: number, bytes: Uint8Array): void {
  const p = prepareChunk(bytes, { level: init.level })
  if (outPos + p.payload.length > OUT_BYTES) flush()
  out.set(p.payload, outPos)
  chunks.push({ file, cid: p.cid.bytes, offset: outPos, length: p.payload.length, compressed: p.compressed, rawSize: p.rawSize })
  outPos += p.payload.length
}

function open (path: string): number {
  // O_NOATIME keeps a backup from touching access times; only the owner (or root) may use it.
  try { return openSync(path, constants.O_RDONLY | constants.O_NOATIME) } catch { return openSync(path, 'r') }
}

function ingest (job: FileJob): void {
  const fd = open(job.path)
  try {
    let start = 0
    let end = 0
    let eof = false
    while (!eof) {
      if (start > 0) { window.copyWithin(0, start, end); end -= start; start = 0 }
      while (end < WINDOW_BYTES) {
        const n = readSync(fd, window, end, WINDOW_BYTES - end, null)
        if (n === 0) { eof = true; break }
        end += n
      }
      for (const len of P.cdcCuts(window.subarray(start, end), eof, minSize, avgSize, maxSize)) {
        emit(job.id, window.subarray(start, start + len))
        start += len
      }
    }
  } finally {
    closeSync(fd)
  }
}

port.on('message', (msg: JobsMessage) => {
  for (const job of msg.jobs) {
    try {
      ingest(job)
      done.push({ file: job.id })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      done.push({ file: job.id, error: { code: e.code, message: e.message } })
    }
  }
  flush()
})
