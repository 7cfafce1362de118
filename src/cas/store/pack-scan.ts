import { CID } from 'multiformats/cid'
import { decompress } from '../compress.js'
import { matchesCid } from '../hasher.js'
import type { PackFiles } from './pack-files.js'
import {
  decodeFrameHeader, decodeFrameTable, decodeRecordHeader, FLAG_ZSTD, FRAME_HEADER_BYTES, RECORD_HEADER_BYTES,
  storedBytesOf, type FrameHeader, type FrameMember, type IndexEntry, type RecordHeader
} from './pack-format.js'

const READ_BLOCK_BYTES = 4 * 1024 * 1024
/** Bytes a scan wants in its buffer before parsing a header (a frame's table may be longer: then it reads more). */
const HEAD_PEEK_BYTES = FRAME_HEADER_BYTES + 4096

/** One block record found by scanning a pack. */
export interface ScannedBlock {
  readonly kind: 'block'
  readonly offset: number
  readonly header: RecordHeader
  readonly cidBytes: Uint8Array
  readonly payload: Uint8Array
  readonly length: number
}

/** One frame record found by scanning a pack. */
export interface ScannedFrame {
  readonly kind: 'frame'
  readonly offset: number
  readonly header: FrameHeader
  readonly members: FrameMember[]
  readonly payload: Uint8Array
  /** Bytes from the record start to the payload. */
  readonly payloadAt: number
  readonly length: number
}

export type ScannedRecord = ScannedBlock | ScannedFrame

/** Where a scan stopped early: `offset` is the start of the first unreadable byte range. */
export interface ScanStop { readonly offset: number, readonly reason: 'torn' | 'garbage' }

/**
 * Reads the records of pack `pack` from `from` to `end`, in order, in large sequential
 * reads. Yields records (not verified: see openPayload, blocksOf). At bytes that are not a
 * whole, well-formed record it yields a ScanStop ('torn' when a record runs past `end`,
 * 'garbage' when there is no header) and ends, or with `resync` goes on at the next
 * plausible header.
 */
export async function * scanPack (files: PackFiles, pack: number, from: number, end: number, options: { resync?: boolean } = {}): AsyncGenerator<ScannedRecord | ScanStop> {
  let pos = from
  while (pos < end) {
    let next = end
    for await (const r of scanRun(files, pack, pos, end)) {
      yield r
      if (isStop(r)) { next = options.resync === true ? await resync(files, pack, r.offset + 1, end) : end; break }
    }
    pos = next
  }
}

const MAGIC_PREFIX = Buffer.from([0x58, 0x50, 0x4b]) // "XPK"; the 4th byte is "1" (block) or "F" (frame)

/** Offset of the next plausible record header at or after `from` (or `end`). */
async function resync (files: PackFiles, pack: number, from: number, end: number): Promise<number> {
  const BLOCK = 1024 * 1024
  for (let pos = from; pos < end; pos += BLOCK - FRAME_HEADER_BYTES) {
    const buf = await files.read(pack, pos, Math.min(BLOCK, end - pos))
    for (let i = buf.indexOf(MAGIC_PREFIX); i >= 0; i = buf.indexOf(MAGIC_PREFIX, i + 1)) {
      if (i + FRAME_HEADER_BYTES > buf.length && pos + buf.length < end) break
      if (decodeRecordHeader(buf, i) !== undefined || decodeFrameHeader(buf, i) !== undefined) return pos + i
    }
  }
  return end
}

/** Fixed-size part of the record at `rel` of `buf`: its total length and how to parse it; undefined if none. */
function spanAt (buf: Uint8Array, rel: number): { length: number, block?: RecordHeader, frame?: FrameHeader } | undefined {
  const block = decodeRecordHeader(buf, rel)
  if (block !== undefined) return { length: RECORD_HEADER_BYTES + block.cidLength + block.payloadLength, block }
  const frame = decodeFrameHeader(buf, rel)
  if (frame !== undefined) return { length: FRAME_HEADER_BYTES + frame.tableLength + frame.payloadLength, frame }
  return undefined
}

async function * scanRun (files: PackFiles, pack: number, from: number, end: number): AsyncGenerator<ScannedRecord | ScanStop> {
  let buf = Buffer.alloc(0)
  let bufStart = from
  let pos = from
  while (pos < end) {
    let rel = pos - bufStart
    if (buf.length - rel < HEAD_PEEK_BYTES) {
      const want = Math.min(READ_BLOCK_BYTES, end - bufStart - buf.length)
      if (want > 0) {
        const more = await files.read(pack, bufStart + buf.length, want)
        buf = Buffer.concat([buf.subarray(rel), more]); bufStart = pos; rel = 0
      }
    }
    const span = spanAt(buf, rel)
    if (span === undefined) { yield { offset: pos, reason: buf.length - rel < RECORD_HEADER_BYTES ? 'torn' : 'garbage' }; return }
    const length = span.length
    if (pos + length > end) { yield { offset: pos, reason: 'torn' }; return }
    if (buf.length - rel < length) {
      const more = await files.read(pack, bufStart + buf.length, Math.max(length - (buf.length - rel), Math.min(READ_BLOCK_BYTES, end - bufStart - buf.length)))
      buf = Buffer.concat([buf.subarray(rel), more]); bufStart = pos; rel = 0
      if (buf.length < length) { yield { offset: pos, reason: 'torn' }; return }
    }
    if (span.block !== undefined) {
      const cidStart = rel + RECORD_HEADER_BYTES
      const cidBytes = buf.subarray(cidStart, cidStart + span.block.cidLength)
      const payload = buf.subarray(cidStart + span.block.cidLength, rel + length)
      yield { kind: 'block', offset: pos, header: span.block, cidBytes, payload, length }
    } else {
      const h = span.frame!
      const payloadAt = FRAME_HEADER_BYTES + h.tableLength
      const members = decodeFrameTable(h, buf.subarray(rel + FRAME_HEADER_BYTES, rel + payloadAt))
      if (members === undefined) { yield { offset: pos, reason: 'garbage' }; return }
      yield { kind: 'frame', offset: pos, header: h, members, payload: buf.subarray(rel + payloadAt, rel + length), payloadAt, length }
    }
    pos += length
  }
}

/** True when `r` is a ScanStop. */
export function isStop (r: ScannedRecord | ScanStop): r is ScanStop { return 'reason' in r }

/**
 * The block of a stored payload, checked against its CID: undefined when the CID does not
 * parse, the frame does not decompress to `rawSize` bytes, or the bytes fail their hash.
 */
export function openPayload (cidBytes: Uint8Array, flags: number, rawSize: number, payload: Uint8Array): { cid: CID, bytes: Uint8Array } | undefined {
  const bytes = openFrame(flags, rawSize, payload)
  return bytes === undefined ? undefined : checkBlock(cidBytes, bytes)
}

/** A payload's bytes (decompressed when flagged); undefined unless exactly `rawSize` bytes come out. */
export function openFrame (flags: number, rawSize: number, payload: Uint8Array): Uint8Array | undefined {
  let bytes: Uint8Array
  if ((flags & FLAG_ZSTD) !== 0) {
    try { bytes = decompress(payload) } catch { return undefined }
  } else bytes = payload
  return bytes.length === rawSize ? bytes : undefined
}

/** `bytes` with their CID when they hash to `cidBytes`, else undefined. */
export function checkBlock (cidBytes: Uint8Array, bytes: Uint8Array): { cid: CID, bytes: Uint8Array } | undefined {
  let cid: CID
  try { cid = CID.decode(cidBytes) } catch { return undefined }
  return matchesCid(cid, bytes) ? { cid, bytes } : undefined
}

/** A block of a scanned record: where it is (as an index entry would say) and its verified bytes. */
export interface RecordBlock {
  readonly cidBytes: Uint8Array
  readonly entry: IndexEntry
  /** Undefined when the block fails verification (or its frame does not decompress). */
  readonly bytes: Uint8Array | undefined
  /** storedBytesOf(entry). */
  readonly storedBytes: number
}

/** The blocks of a scanned record of pack `pack`, verified (a frame is decompressed once). */
export function blocksOf (pack: number, r: ScannedRecord): RecordBlock[] {
  if (r.kind === 'block') {
    const entry: IndexEntry = { pack, offset: r.offset, length: r.header.payloadLength, flags: r.header.flags, rawSize: r.header.rawSize, frame: undefined }
    const block = openPayload(r.cidBytes, r.header.flags, r.header.rawSize, r.payload)
    return [{ cidBytes: r.cidBytes, entry, bytes: block?.bytes, storedBytes: r.length }]
  }
  const raw = openFrame(r.header.flags, r.header.rawSize, r.payload)
  return r.members.map((m) => {
    const entry: IndexEntry = { pack, offset: r.offset, length: r.header.payloadLength, flags: r.header.flags, rawSize: m.rawSize, frame: { at: m.at, rawSize: r.header.rawSize, payloadAt: r.payloadAt } }
    const bytes = raw === undefined ? undefined : checkBlock(m.cidBytes, raw.subarray(m.at, m.at + m.rawSize))?.bytes
    return { cidBytes: m.cidBytes, entry, bytes, storedBytes: storedBytesOf(entry, m.cidBytes.length) }
  })
}
