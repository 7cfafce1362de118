import { closeSync, constants, openSync, readSync } from 'node:fs'
import { getSystemErrorMap } from 'node:util'
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import { CHUNKER_V1, GEAR } from '../../cas/chunker/cdc.js'
import { MIN_COMPRESS_BYTES, MIN_SAVING_BYTES } from '../../cas/compress-policy.js'
import { INGEST_FULL, posix } from '../posix.js'
import {
  CHUNK_FIELDS, MAX_PROBE_CHUNKS, RECORD_FIELDS,
  type FileDone, type FileJob, type JobsMessage, type ProbeMessage, type ResultMessage, type WorkerInit
} from './protocol.js'
import type { DeferredInit } from './prestart.js'

/**
 * Ingest worker: for each job, reads the file through a fixed window (memory is flat whatever
 * the size), cuts it with the pinned FastCDC parameters, hashes every chunk, gathers the new
 * ones (not yet seen by any worker of this import) into frames of up to `frameBytes` that
 * are zstd-compressed as one (compress-policy.ts), and posts the chunks in file order with
 * the records that store them, packed into transferred buffers. All of that per chunk runs
 * in C (native/ingest.c: one call per file, writing straight into the message buffers). Other
 * job kinds: in-memory content (tar members), the cuts of a large file, a range of a large
 * file's chunks; in probe mode it asks which chunks are
 * new before compressing. Synchronous inside: it blocks on the shared credit counter when the
 * main thread lags (backpressure) and on the answer word while a probe is out.
 */
const init = initOf(workerData as WorkerInit | DeferredInit)
const credit = new Int32Array(init.credit)
const port = parentPort
if (port === null) throw new Error('ingest worker must run in a worker thread')

/**
 * The WorkerInit: workerData, or for a prestarted worker (prestart.ts) the first message,
 * which it waits for here, after its imports are loaded (in slices, so terminate() can end it).
 */
function initOf (data: WorkerInit | DeferredInit): WorkerInit {
  if (!('deferred' in data)) return data
  const flag = new Int32Array(data.deferred)
  while (Atomics.load(flag, 0) === 0) Atomics.wait(flag, 0, 0, 200)
  const got = receiveMessageOnPort(parentPort!)
  if (got === undefined) throw new Error('ingest worker released without its init message')
  return got.message as WorkerInit
}

const WINDOW_BYTES = 4 * 1024 * 1024
const OUT_BYTES = 1024 * 1024
const { minSize, avgSize, maxSize } = CHUNKER_V1
const window = new Uint8Array(WINDOW_BYTES)
const P = posix()
P.cdcInit(GEAR)
// Chunks put in a record by any worker of this import (protocol.ts WorkerInit.seen): the C side
// reads and claims slots of this table with atomics.
const native = P.ingestCreate({
  level: init.level, frameBytes: init.frameBytes, minCompress: MIN_COMPRESS_BYTES, minSaving: MIN_SAVING_BYTES,
  min: minSize, avg: avgSize, max: maxSize, windowBytes: WINDOW_BYTES, seen: new BigInt64Array(init.seen)
})

// The message being gathered; the C side writes into these and advances `st`.
let out = new Uint8Array(OUT_BYTES)
const MAX_CHUNKS_PER_MESSAGE = 4096
const meta = new Float64Array(MAX_CHUNKS_PER_MESSAGE * CHUNK_FIELDS)
const cids = new Uint8Array(MAX_CHUNKS_PER_MESSAGE * 64)
const records = new Float64Array(MAX_CHUNKS_PER_MESSAGE * RECORD_FIELDS)
/** [bytes used in `out`, chunks in `meta`, bytes used in `cids`, records in `records`]. */
const st = new Float64Array(4)
let done: FileDone[] = []

/** Posts what is gathered (closing the open frame first), waiting for credit. */
function flush (): void {
  P.ingestCloseFrame(native, out, meta, cids, records, st)
  const [outPos, count, cidPos, recordCount] = st
  if (count === 0 && done.length === 0) return
  // Mostly empty buffers are shrunk before the transfer, so credit counts real memory.
  const buffer = outPos < OUT_BYTES / 2 ? out.slice(0, outPos).buffer : out.buffer
  for (;;) {
    const inFlight = Atomics.load(credit, 0)
    if (inFlight <= init.maxInFlightBytes) break
    Atomics.wait(credit, 0, inFlight, 1000)
  }
  Atomics.add(credit, 0, buffer.byteLength)
  const msg: ResultMessage = {
    type: 'result', buffer, cids: cids.slice(0, cidPos), meta: meta.slice(0, count * CHUNK_FIELDS),
    records: records.slice(0, recordCount * RECORD_FIELDS), done, bytes: buffer.byteLength
  }
  port!.postMessage(msg, [buffer, msg.meta.buffer as ArrayBuffer, msg.cids.buffer as ArrayBuffer, msg.records.buffer as ArrayBuffer])
  if (buffer === out.buffer) out = new Uint8Array(OUT_BYTES)
  st.fill(0)
  done = []
}

/** A chunk found: straight to the output, or (probe mode) staged until the store is asked. */
function emit (file: number, bytes: Uint8Array): void {
  if (init.probe) stage(file, bytes)
  else record(file, bytes)
}

/** Appends chunk `bytes` to the outgoing message (C: hash unless `cid` is given, dedup, frame); `present`: the store has it. */
function record (file: number, bytes: Uint8Array, present = false, cid?: Uint8Array): void {
  while (P.ingestRecord(native, file, bytes, present, out, meta, cids, records, st, cid) === INGEST_FULL) flush()
}

const errnoNames = getSystemErrorMap()

/** The whole file at `path`, in C (read, cut, hash, dedup, frame, compress), posting whenever the message fills. */
function ingestPath (file: number, path: string): void {
  for (;;) {
    const r = P.ingestFile(native, path, file, out, meta, cids, records, st)
    if (r === INGEST_FULL) { flush(); continue }
    if (r === 0) return
    const [code, text] = errnoNames.get(r) ?? ['EIO', 'i/o error']
    throw Object.assign(new Error(`${code}: ${text}, read '${path}'`), { code })
  }
}

// Probe mode (re-imports): chunks are hashed and staged, the main thread says which the store
// lacks, and only those are compressed; zstd is most of an import's work.
const STAGE_BYTES = 8 * 1024 * 1024
const stageBuf = init.probe ? new Uint8Array(STAGE_BYTES) : new Uint8Array(0)
const answer = new Int32Array(init.answer, 0, 2)
const missingFlags = new Uint8Array(init.answer, 8)
let staged: Array<{ file: number, cid: Uint8Array, offset: number, length: number }> = []
let stagePos = 0
let seq = 0
/** Files whose chunks are all staged: reported done once the stage is flushed. */
let stagedDone: FileDone[] = []

function stage (file: number, bytes: Uint8Array): void {
  if (stagePos + bytes.length > STAGE_BYTES || staged.length === MAX_PROBE_CHUNKS) flushStage()
  stageBuf.set(bytes, stagePos)
  staged.push({ file, cid: P.rawCid(bytes), offset: stagePos, length: bytes.length })
  stagePos += bytes.length
}

function fileDone (d: FileDone): void {
  if (init.probe) stagedDone.push(d)
  else done.push(d)
}

function flushStage (): void {
  if (staged.length > 0) {
    const cidLength = staged[0].cid.length
    const asked = new Uint8Array(staged.length * cidLength)
    staged.forEach((s, i) => asked.set(s.cid, i * cidLength))
    const msg: ProbeMessage = { type: 'probe', seq: ++seq, cids: asked, cidLength }
    port!.postMessage(msg, [asked.buffer])
    while (Atomics.load(answer, 0) !== seq) Atomics.wait(answer, 0, Atomics.load(answer, 0), 1000)
    staged.forEach((s, i) => {
      const bytes = stageBuf.subarray(s.offset, s.offset + s.length)
      record(s.file, bytes, missingFlags[i] !== 1, s.cid)
    })
  }
  staged = []
  stagePos = 0
  done.push(...stagedDone)
  stagedDone = []
}

function open (path: string): number {
  // O_NOATIME keeps a backup from touching access times; only the owner (or root) may use it.
  try { return openSync(path, constants.O_RDONLY | constants.O_NOATIME) } catch { return openSync(path, 'r') }
}

/** Chunk lengths of the whole file at `path` (no hashing): step one of a large file. */
function cutsOf (path: string): Uint32Array {
  const parts: Uint32Array[] = []
  let total = 0
  scan(path, (cuts) => { parts.push(cuts.slice()); total += cuts.length })
  const all = new Uint32Array(total)
  let at = 0
  for (const p of parts) { all.set(p, at); at += p.length }
  return all
}

/** Hashes and compresses the chunks `lengths` of the file at `path`, from `offset` on. */
function ingestRange (job: FileJob): void {
  const fd = open(job.path!)
  try {
    let pos = job.offset!
    for (const len of job.lengths!) {
      const bytes = window.subarray(0, len)
      let got = 0
      while (got < len) {
        const n = readSync(fd, bytes, got, len - got, pos + got)
        if (n === 0) throw Object.assign(new Error(`file shrank while being read: ${job.path!}`), { code: 'ESHRANK' })
        got += n
      }
      emit(job.id, bytes)
      pos += len
    }
  } finally {
    closeSync(fd)
  }
}

/** Reads `path` through the window and calls `onCuts` with each run of chunk lengths found. */
function scan (path: string, onCuts: (cuts: Uint32Array, window: Uint8Array, start: number) => void): void {
  const fd = open(path)
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
      const cuts = P.cdcCuts(window.subarray(start, end), eof, minSize, avgSize, maxSize)
      onCuts(cuts, window, start)
      for (const len of cuts) start += len
    }
  } finally {
    closeSync(fd)
  }
}

function ingest (job: FileJob): void {
  if (job.cutsOnly === true) {
    const lengths = cutsOf(job.path!)
    port!.postMessage({ type: 'cuts', file: job.id, lengths }, [lengths.buffer as ArrayBuffer])
    return
  }
  if (job.lengths !== undefined) { ingestRange(job); return }
  if (job.data !== undefined) {
    const data = new Uint8Array(job.data)
    let start = 0
    for (const len of P.cdcCuts(data, true, minSize, avgSize, maxSize)) {
      emit(job.id, data.subarray(start, start + len))
      start += len
    }
    return
  }
  if (!init.probe) { ingestPath(job.id, job.path!); return }
  scan(job.path!, (cuts, win, from) => {
    let start = from
    for (const len of cuts) {
      emit(job.id, win.subarray(start, start + len))
      start += len
    }
  })
}

port.on('message', (msg: JobsMessage) => {
  for (const job of msg.jobs) {
    try {
      ingest(job)
      fileDone({ file: job.id })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      fileDone({ file: job.id, error: { code: e.code, message: e.message } })
    }
  }
  if (init.probe) flushStage()
  flush()
})
