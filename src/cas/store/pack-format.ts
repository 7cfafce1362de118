/**
 * Bytes on disk of the local store's pack files, in one place. A pack is a plain
 * concatenation of self-describing records (little-endian), so any pack can be re-indexed
 * from its bytes alone (recovery, fsck):
 *
 *   offset 0   u32  magic 0x314b5058 ("XPK1")
 *          4   u8   flags (bit 0: payload is one zstd frame)
 *          5   u8   CID length in bytes (binary CIDv1)
 *          6   u16  reserved, 0
 *          8   u32  raw size (bytes of the block once decompressed)
 *         12   u32  payload length
 *         16        CID bytes, then payload
 *
 * An index entry locates a record: pack number, record offset, payload length, flags, raw
 * size (19 bytes). Changing either layout needs a new magic / store version.
 */
export const RECORD_MAGIC = 0x314b5058
export const RECORD_HEADER_BYTES = 16
export const FLAG_ZSTD = 1
/** Largest block the store accepts (a chunk is ≤ 256 KiB; tree nodes are small). */
export const MAX_BLOCK_BYTES = 16 * 1024 * 1024
const MAX_CID_BYTES = 255

/** Where a block lives. `offset` is the record start; the payload follows header and CID. */
export interface IndexEntry {
  readonly pack: number
  readonly offset: number
  readonly length: number
  readonly flags: number
  readonly rawSize: number
}

/** Parsed record header. */
export interface RecordHeader {
  readonly flags: number
  readonly cidLength: number
  readonly rawSize: number
  readonly payloadLength: number
}

/** Encodes header + CID of a record (the payload is written after it). */
export function encodeRecordHead (cidBytes: Uint8Array, flags: number, rawSize: number, payloadLength: number): Buffer {
  if (cidBytes.length > MAX_CID_BYTES) throw new RangeError('CID too long')
  const head = Buffer.allocUnsafe(RECORD_HEADER_BYTES + cidBytes.length)
  head.writeUInt32LE(RECORD_MAGIC, 0)
  head.writeUInt8(flags, 4)
  head.writeUInt8(cidBytes.length, 5)
  head.writeUInt16LE(0, 6)
  head.writeUInt32LE(rawSize, 8)
  head.writeUInt32LE(payloadLength, 12)
  head.set(cidBytes, RECORD_HEADER_BYTES)
  return head
}

/** Decodes a record header; undefined when the bytes are not a plausible header. */
export function decodeRecordHeader (bytes: Uint8Array, at = 0): RecordHeader | undefined {
  if (bytes.length - at < RECORD_HEADER_BYTES) return undefined
  const view = Buffer.from(bytes.buffer, bytes.byteOffset + at, RECORD_HEADER_BYTES)
  if (view.readUInt32LE(0) !== RECORD_MAGIC || view.readUInt16LE(6) !== 0) return undefined
  const flags = view.readUInt8(4)
  const cidLength = view.readUInt8(5)
  const rawSize = view.readUInt32LE(8)
  const payloadLength = view.readUInt32LE(12)
  if ((flags & ~FLAG_ZSTD) !== 0 || cidLength < 4 || rawSize > MAX_BLOCK_BYTES || payloadLength > MAX_BLOCK_BYTES) return undefined
  return { flags, cidLength, rawSize, payloadLength }
}

/** Total bytes of a record. */
export function recordLength (cidLength: number, payloadLength: number): number {
  return RECORD_HEADER_BYTES + cidLength + payloadLength
}

const ENTRY_BYTES = 19

/** Index value bytes of an entry. */
export function encodeEntry (e: IndexEntry): Uint8Array {
  const b = Buffer.allocUnsafe(ENTRY_BYTES)
  b.writeUInt32LE(e.pack, 0)
  b.writeUIntLE(e.offset, 4, 6)
  b.writeUInt32LE(e.length, 10)
  b.writeUInt8(e.flags, 14)
  b.writeUInt32LE(e.rawSize, 15)
  return b
}

/** Inverse of encodeEntry; undefined for malformed values. */
export function decodeEntry (bytes: Uint8Array): IndexEntry | undefined {
  if (bytes.length !== ENTRY_BYTES) return undefined
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  return { pack: b.readUInt32LE(0), offset: b.readUIntLE(4, 6), length: b.readUInt32LE(10), flags: b.readUInt8(14), rawSize: b.readUInt32LE(15) }
}

/** File name of pack `n`: 000001.pack … (sorts by number). */
export function packFileName (n: number): string {
  return `${String(n).padStart(6, '0')}.pack`
}

/** Pack number of a file name, or undefined when it is not a pack. */
export function packNumber (fileName: string): number | undefined {
  const m = /^(\d{6,})\.pack$/.exec(fileName)
  return m === null ? undefined : Number(m[1])
}
