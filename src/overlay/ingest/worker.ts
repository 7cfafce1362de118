import { closeSync, constants, openSync, readSync } from 'node:fs'
import { createRequire } from 'node:module'
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import { CHUNKER_V1, GEAR } from '../../cas/chunker/cdc.js'
import { keepsCompressed, worthCompressing } from '../../cas/compress-policy.js'
import { rawChunkCidBytes } from '../../cas/raw-cid.js'
import { posix } from '../posix.js'

/** zstd-napi's native binding (the classes in its dist/ wrap this). */
interface ZstdBinding {
  CCtx: new () => { setParameter: (param: number, value: number) => void, compress2: (dst: Uint8Array, src: Uint8Array) => number }
  CParameter: { compressionLevel: number }
  compressBound: (size: number) => number
}
const zstd = createRequire(import.meta.url)('zstd-napi/binding.js') as ZstdBinding
import {
  CHUNK_FIELDS, CHUNK_PRESENT, CHUNK_SEEN, MAX_PROBE_CHUNKS, RECORD_FIELDS,
  type FileDone, type FileJob, type JobsMessage, type ProbeMessage, type ResultMessage, type WorkerInit
} from './protocol.js'
import type { DeferredInit } from './prestart.js'

/**
 * Ingest worker: for each job, reads the file through a fixed window (memory is flat whatever
 * the size), cuts it with the pinned FastCDC parameters (in C, same cuts), hashes every chunk,
 * gathers the new ones (not yet seen by any worker of this import) into frames of up to
 * `frameBytes` that are zstd-compressed as one (prepareFrame's policy), and posts the chunks
 * in file order with the records that store them, packed into transferred buffers. Other
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
// The cut search runs in C (native/posix.c cdcCuts, same cuts as cdc.ts findBoundary).
const P = posix()
P.cdcInit(GEAR)

let out = new Uint8Array(OUT_BYTES)
let outPos = 0
const MAX_CHUNKS_PER_MESSAGE = 4096
const meta = new Float64Array(MAX_CHUNKS_PER_MESSAGE * CHUNK_FIELDS)
const cids = new Uint8Array(MAX_CHUNKS_PER_MESSAGE * 64)
let cidPos = 0
const records = new Float64Array(MAX_CHUNKS_PER_MESSAGE * RECORD_FIELDS)
let count = 0
let recordCount = 0
let done: FileDone[] = []

/** Posts what is gathered (closing the open frame first), waiting for credit. */
function flush (): void {
  closeFrame()
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
  outPos = 0; cidPos = 0; count = 0; recordCount = 0
  done = []
}

/** A chunk found: straight to the output, or (probe mode) staged until the store is asked. */
function emit (file: number, bytes: Uint8Array): void {
  if (init.probe) stage(file, bytes)
  else record(file, rawChunkCidBytes(bytes), bytes)
}

// zstd straight into the outgoing buffer: the Compressor class allocates a result per call,
// and at a chunk per 64 KiB that garbage (freed only at the next GC) is most of a worker's
// memory. When to keep the compressed form: compress-policy.ts, as for every other writer.
const cctx = new zstd.CCtx()
cctx.setParameter(zstd.CParameter.compressionLevel, init.level)

// The frame being gathered: consecutive new chunks, concatenated (a chunk is at most maxSize).
const frameCap = Math.max(init.frameBytes, maxSize)
const frameBuf = new Uint8Array(frameCap)
let framePos = 0
let frameMembers = 0

// Chunks put in a record by any worker of this import (protocol.ts WorkerInit.seen).
const seen = new BigInt64Array(init.seen)
const SEEN_SLOTS = seen.length - 1 // the last slot counts the filled ones
const seenFill = new BigInt64Array(init.seen, SEEN_SLOTS * 8, 1)

/**
 * True when no worker of this import has recorded a chunk with this digest yet (and marks
 * it). Keys are the digest's first 64 bits: two different chunks sharing them (odds ~n²/2^65,
 * 3e-8 for a million chunks) would store one of them only, and the pool's final check of
 * CHUNK_SEEN chunks then fails the import instead of writing a tree with a hole. Once the
 * table is 3/4 full it takes no new keys (lookups still work): a repeat of a chunk it does
 * not know is stored again, as dead bytes in its frame (the store indexes it once).
 */
function firstSighting (cidBytes: Uint8Array): boolean {
  const view = new DataView(cidBytes.buffer, cidBytes.byteOffset + 4, 8) // the digest's first 8 bytes
  const key = view.getBigInt64(0, true) | 1n
  const full = Atomics.load(seenFill, 0) * 4n > BigInt(SEEN_SLOTS) * 3n
  let i = Number(BigInt.asUintN(32, key) % BigInt(SEEN_SLOTS))
  for (let probes = 0; probes < SEEN_SLOTS; probes++) {
    const old = full ? Atomics.load(seen, i) : Atomics.compareExchange(seen, i, 0n, key)
    if (old === 0n) {
      if (!full) Atomics.add(seenFill, 0, 1n)
      return true
    }
    if (old === key) return false
    i = i + 1 === SEEN_SLOTS ? 0 : i + 1
  }
  return true
}

/** Appends chunk `bytes` (with binary CID `cidBytes`) to the outgoing message; `present`: the store has it. */
function record (file: number, cidBytes: Uint8Array, bytes: Uint8Array, present = false): void {
  if (count === MAX_CHUNKS_PER_MESSAGE || cidPos + cidBytes.length > cids.length) flush()
  let rec = present ? CHUNK_PRESENT : firstSighting(cidBytes) ? 0 : CHUNK_SEEN
  if (rec >= 0) {
    if (frameMembers > 0 && framePos + bytes.length > init.frameBytes) closeFrame()
    const raw = framePos + bytes.length
    if (outPos + Math.max(zstd.compressBound(raw), raw) > OUT_BYTES || recordCount === MAX_CHUNKS_PER_MESSAGE) flush()
    rec = recordCount
    frameBuf.set(bytes, framePos)
    framePos += bytes.length
    frameMembers++
  }
  const m = count * CHUNK_FIELDS
  meta[m] = file
  meta[m + 1] = cidPos
  meta[m + 2] = cidBytes.length
  meta[m + 3] = bytes.length
  meta[m + 4] = rec
  cids.set(cidBytes, cidPos)
  cidPos += cidBytes.length
  count++
  if (init.frameBytes === 0) closeFrame()
}

/** Compresses the gathered frame into the outgoing buffer as record `recordCount`. */
function closeFrame (): void {
  if (frameMembers === 0) return
  const raw = frameBuf.subarray(0, framePos)
  let length = framePos
  let compressed = false
  if (worthCompressing(init.level, framePos)) {
    const n = cctx.compress2(out.subarray(outPos, outPos + Math.max(zstd.compressBound(framePos), framePos)), raw)
    if (keepsCompressed(n, framePos)) { length = n; compressed = true }
  }
  if (!compressed) out.set(raw, outPos)
  const r = recordCount * RECORD_FIELDS
  records[r] = outPos
  records[r + 1] = length
  records[r + 2] = compressed ? 1 : 0
  records[r + 3] = frameMembers
  outPos += length
  recordCount++
  framePos = 0
  frameMembers = 0
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
  staged.push({ file, cid: rawChunkCidBytes(bytes), offset: stagePos, length: bytes.length })
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
      record(s.file, s.cid, bytes, missingFlags[i] !== 1)
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
