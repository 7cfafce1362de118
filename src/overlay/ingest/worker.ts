import { closeSync, constants, openSync, readSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { CHUNKER_V1, GEAR } from '../../cas/chunker/cdc.js'
import { prepareChunk } from '../../cas/prepare.js'
import { posix } from '../posix.js'
import { CHUNK_FIELDS, type FileDone, type FileJob, type JobsMessage, type ResultMessage, type WorkerInit } from './protocol.js'

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
const OUT_BYTES = 1024 * 1024
const { minSize, avgSize, maxSize } = CHUNKER_V1
const window = new Uint8Array(WINDOW_BYTES)
// The cut search runs in C (native/posix.c cdcCuts, same cuts as cdc.ts findBoundary).
const P = posix()
P.cdcInit(GEAR)

let out = new Uint8Array(OUT_BYTES)
let outPos = 0
const MAX_CHUNKS_PER_MESSAGE = 4096
let meta = new Float64Array(MAX_CHUNKS_PER_MESSAGE * CHUNK_FIELDS)
let count = 0
let done: FileDone[] = []

function flush (): void {
  if (count === 0 && done.length === 0) return
  // Mostly empty buffers are shrunk before the transfer, so credit counts real memory.
  const buffer = outPos < OUT_BYTES / 2 ? out.slice(0, outPos).buffer : out.buffer
  for (;;) {
    const inFlight = Atomics.load(credit, 0)
    if (inFlight <= init.maxInFlightBytes) break
    Atomics.wait(credit, 0, inFlight, 1000)
  }
  Atomics.add(credit, 0, buffer.byteLength)
  const msg: ResultMessage = { type: 'result', buffer, meta: meta.slice(0, count * CHUNK_FIELDS), done, bytes: buffer.byteLength }
  port!.postMessage(msg, [buffer, msg.meta.buffer as ArrayBuffer])
  if (buffer === out.buffer) out = new Uint8Array(OUT_BYTES)
  outPos = 0
  count = 0
  done = []
}

function emit (file: number, bytes: Uint8Array): void {
  const p = prepareChunk(bytes, { level: init.level })
  const cid = p.cid.bytes
  if (outPos + p.payload.length + cid.length > OUT_BYTES || count === MAX_CHUNKS_PER_MESSAGE) flush()
  const m = count * CHUNK_FIELDS
  meta[m] = file
  meta[m + 1] = outPos
  meta[m + 2] = p.payload.length
  meta[m + 3] = p.compressed ? 1 : 0
  meta[m + 4] = p.rawSize
  out.set(p.payload, outPos)
  outPos += p.payload.length
  meta[m + 5] = outPos
  meta[m + 6] = cid.length
  out.set(cid, outPos)
  outPos += cid.length
  count++
}

function open (path: string): number {
  // O_NOATIME keeps a backup from touching access times; only the owner (or root) may use it.
  try { return openSync(path, constants.O_RDONLY | constants.O_NOATIME) } catch { return openSync(path, 'r') }
}

function ingest (job: FileJob): void {
  if (job.data !== undefined) {
    const data = new Uint8Array(job.data)
    let start = 0
    for (const len of P.cdcCuts(data, true, minSize, avgSize, maxSize)) {
      emit(job.id, data.subarray(start, start + len))
      start += len
    }
    return
  }
  const fd = open(job.path!)
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
