import { CID } from 'multiformats/cid'
import { decompress } from '../compress.js'
import { matchesCid } from '../hasher.js'
import type { PackFiles } from './pack-files.js'
import { decodeRecordHeader, FLAG_ZSTD, RECORD_HEADER_BYTES, type RecordHeader } from './pack-format.js'

const READ_BLOCK_BYTES = 4 * 1024 * 1024

/** One record found by scanning a pack. */
export interface ScannedRecord {
  readonly offset: number
  readonly header: RecordHeader
  readonly cidBytes: Uint8Array
  readonly payload: Uint8Array
  readonly length: number
}

/** Where a scan stopped early: `offset` is the start of the first unreadable byte range. */
export interface ScanStop { readonly offset: number, readonly reason: 'torn' | 'garbage' }

/**
 * Reads the records of pack `pack` from `from` to `end`, in order, in large sequential
 * reads. Yields records (not verified: see openPayload). At bytes that are not a whole,
 * well-formed record it yields a ScanStop ('torn' when a record runs past `end`, 'garbage'
 * when there is no header) and ends, or with `resync` goes on at the next plausible header.
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

const MAGIC = Buffer.from([0x58, 0x50, 0x4b, 0x31])

/** Offset of the next plausible record header at or after `from` (or `end`). */
async function resync (files: PackFiles, pack: number, from: number, end: number): Promise<number> {
  const BLOCK = 1024 * 1024
  for (let pos = from; pos < end; pos += BLOCK - RECORD_HEADER_BYTES) {
    const buf = await files.read(pack, pos, Math.min(BLOCK, end - pos))
    for (let i = buf.indexOf(MAGIC); i >= 0; i = buf.indexOf(MAGIC, i + 1)) {
      if (i + RECORD_HEADER_BYTES > buf.length && pos + buf.length < end) break
      if (decodeRecordHeader(buf, i) !== undefined) return pos + i
    }
  }
  return end
}

async function * scanRun (files: PackFiles, pack: number, from: number, end: number): AsyncGenerator<ScannedRecord | ScanStop> {
  let buf = Buffer.alloc(0)
  let bufStart = from
  let pos = from
  while (pos < end) {
    let rel = pos - bufStart
    if (buf.length - rel < RECORD_HEADER_BYTES + 255) {
      const want = Math.min(READ_BLOCK_BYTES, end - bufStart - buf.length)
      if (want > 0) {
        const more = await files.read(pack, bufStart + buf.length, want)
        buf = Buffer.concat([buf.subarray(rel), more]); bufStart = pos; rel = 0
      }
    }
    const header = decodeRecordHeader(buf, rel)
    if (header === undefined) { yield { offset: pos, reason: buf.length - rel < RECORD_HEADER_BYTES ? 'torn' : 'garbage' }; return }
    const length = RECORD_HEADER_BYTES + header.cidLength + header.payloadLength
    if (pos + length > end) { yield { offset: pos, reason: 'torn' }; return }
    if (buf.length - rel < length) {
      const more = await files.read(pack, bufStart + buf.length, Math.max(length - (buf.length - rel), Math.min(READ_BLOCK_BYTES, end - bufStart - buf.length)))
      buf = Buffer.concat([buf.subarray(rel), more]); bufStart = pos; rel = 0
      if (buf.length < length) { yield { offset: pos, reason: 'torn' }; return }
    }
    const cidStart = rel + RECORD_HEADER_BYTES
    const cidBytes = buf.subarray(cidStart, cidStart + header.cidLength)
    const payload = buf.subarray(cidStart + header.cidLength, rel + length)
    yield { offset: pos, header, cidBytes, payload, length }
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
  let cid: CID
  try { cid = CID.decode(cidBytes) } catch { return undefined }
  let bytes: Uint8Array
  if ((flags & FLAG_ZSTD) !== 0) {
    try { bytes = decompress(payload) } catch { return undefined }
  } else bytes = payload
  if (bytes.length !== rawSize || !matchesCid(cid, bytes)) return undefined
  return { cid, bytes }
}
