/**
 * Bytes on disk of the local store's pack files, in one place. A pack is a plain
 * concatenation of self-describing records (little-endian), so any pack can be re-indexed
 * from its bytes alone (recovery, fsck). Two kinds of record:
 *
 * A block record ("XPK1", one block):
 *   offset 0   u32  magic 0x314b5058 ("XPK1")
 *          4   u8   flags (bit 0: payload is one zstd frame)
 *          5   u8   CID length in bytes (binary CIDv1)
 *          6   u16  reserved, 0
 *          8   u32  raw size (bytes of the block once decompressed)
 *         12   u32  payload length
 *         16        CID bytes, then payload
 *
 * A frame record ("XPKF", store version 2: several blocks compressed together):
 *   offset 0   u32  magic 0x464b5058 ("XPKF")
 *          4   u8   flags (bit 0: payload is one zstd frame)
 *          5   u8   reserved, 0
 *          6   u16  member count (>= 1)
 *          8   u32  raw size (sum of the members' sizes)
 *         12   u32  payload length
 *         16   u32  member table length in bytes
 *         20        member table: per member, in order: u32 raw size, u8 CID length, CID bytes
 *                   then payload: the members' bytes concatenated (zstd-compressed when flagged)
 *
 * Compressing neighbouring small blocks together is what frames are for: zstd finds repeats
 * across them and pays one frame header (measured on the Debian tree: see compress.ts).
 *
 * An index entry locates a block: pack number, record offset, payload length, flags, raw
 * size (19 bytes); a frame member adds its offset inside the decompressed frame, the frame's
 * raw size and where the payload starts from the record start (31 bytes, FLAG_FRAME set).
 */
export const RECORD_MAGIC = 0x314b5058
export const FRAME_MAGIC = 0x464b5058
export const RECORD_HEADER_BYTES = 16
export const FRAME_HEADER_BYTES = 20
export const FLAG_ZSTD = 1
/** Index entries only (never on disk in a record's flags): the block is a frame member. */
export const FLAG_FRAME = 2
/** Largest block the store accepts (a chunk is ≤ 256 KiB; tree nodes are small). */
export const MAX_BLOCK_BYTES = 16 * 1024 * 1024
/** Largest decompressed frame a reader accepts (writers stay far below: see FRAME_RAW_BYTES). */
export const MAX_FRAME_RAW_BYTES = 4 * 1024 * 1024
const MAX_FRAME_TABLE_BYTES = 1024 * 1024
const MAX_CID_BYTES = 255

/** Where a frame member sits inside its frame. */
export interface FrameSlot {
  /** Offset of the member in the decompressed frame. */
  readonly at: number
  /** Raw size of the whole frame. */
  readonly rawSize: number
  /** Bytes from the record start to the payload (header + member table). */
  readonly payloadAt: number
}

/**
 * Where a block lives. `offset` is the record start. For a block record `length` and
 * `flags` describe its own payload; for a frame member (`frame` set) they describe the
 * frame's payload, and `rawSize` is the member's.
 */
export interface IndexEntry {
  readonly pack: number
  readonly offset: number
  readonly length: number
  readonly flags: number
  readonly rawSize: number
  /** Set for a frame member; present (undefined) on block entries too, for one object shape. */
  readonly frame?: FrameSlot | undefined
}

/** Parsed block record header. */
export interface RecordHeader {
  readonly flags: number
  readonly cidLength: number
  readonly rawSize: number
  readonly payloadLength: number
}

/** One member of a frame record. */
export interface FrameMember { readonly cidBytes: Uint8Array, readonly rawSize: number, readonly at: number }

/** Parsed frame record header (the member table is parsed separately: decodeFrameTable). */
export interface FrameHeader {
  readonly flags: number
  readonly count: number
  readonly rawSize: number
  readonly payloadLength: number
  readonly tableLength: number
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

/** Encodes header + member table of a frame record (the payload follows it). */
export function encodeFrameHead (members: ReadonlyArray<{ cidBytes: Uint8Array, rawSize: number }>, flags: number, payloadLength: number): Buffer {
  if (members.length === 0 || members.length > 0xffff) throw new RangeError('a frame holds 1 to 65535 members')
  let tableLength = 0
  let rawSize = 0
  for (const m of members) {
    if (m.cidBytes.length > MAX_CID_BYTES) throw new RangeError('CID too long')
    tableLength += 5 + m.cidBytes.length; rawSize += m.rawSize
  }
  if (rawSize > MAX_FRAME_RAW_BYTES) throw new RangeError(`frames hold at most ${MAX_FRAME_RAW_BYTES} bytes`)
  const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES + tableLength)
  head.writeUInt32LE(FRAME_MAGIC, 0)
  head.writeUInt8(flags, 4)
  head.writeUInt8(0, 5)
  head.writeUInt16LE(members.length, 6)
  head.writeUInt32LE(rawSize, 8)
  head.writeUInt32LE(payloadLength, 12)
  head.writeUInt32LE(tableLength, 16)
  let at = FRAME_HEADER_BYTES
  for (const m of members) {
    head.writeUInt32LE(m.rawSize, at)
    head.writeUInt8(m.cidBytes.length, at + 4)
    head.set(m.cidBytes, at + 5)
    at += 5 + m.cidBytes.length
  }
  return head
}

/** Decodes a block record header; undefined when the bytes are not a plausible header. */
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

/** Decodes a frame record header; undefined when the bytes are not a plausible one. */
export function decodeFrameHeader (bytes: Uint8Array, at = 0): FrameHeader | undefined {
  if (bytes.length - at < FRAME_HEADER_BYTES) return undefined
  const view = Buffer.from(bytes.buffer, bytes.byteOffset + at, FRAME_HEADER_BYTES)
  if (view.readUInt32LE(0) !== FRAME_MAGIC || view.readUInt8(5) !== 0) return undefined
  const flags = view.readUInt8(4)
  const count = view.readUInt16LE(6)
  const rawSize = view.readUInt32LE(8)
  const payloadLength = view.readUInt32LE(12)
  const tableLength = view.readUInt32LE(16)
  if ((flags & ~FLAG_ZSTD) !== 0 || count === 0 || rawSize > MAX_FRAME_RAW_BYTES || payloadLength > MAX_BLOCK_BYTES ||
    tableLength < count * 9 || tableLength > MAX_FRAME_TABLE_BYTES) return undefined
  return { flags, count, rawSize, payloadLength, tableLength }
}

/** Members of a frame from its table bytes; undefined when the table is inconsistent with `h`. */
export function decodeFrameTable (h: FrameHeader, table: Uint8Array): FrameMember[] | undefined {
  if (table.length !== h.tableLength) return undefined
  const view = Buffer.from(table.buffer, table.byteOffset, table.length)
  const out: FrameMember[] = []
  let pos = 0
  let at = 0
  for (let i = 0; i < h.count; i++) {
    if (pos + 5 > table.length) return undefined
    const rawSize = view.readUInt32LE(pos)
    const cidLength = view.readUInt8(pos + 4)
    if (cidLength < 4 || pos + 5 + cidLength > table.length) return undefined
    out.push({ cidBytes: table.subarray(pos + 5, pos + 5 + cidLength), rawSize, at })
    at += rawSize; pos += 5 + cidLength
  }
  return pos === table.length && at === h.rawSize ? out : undefined
}

/** Total bytes of a block record. */
export function recordLength (cidLength: number, payloadLength: number): number {
  return RECORD_HEADER_BYTES + cidLength + payloadLength
}

/** Offset of an entry's payload in its pack (`cidLength`: bytes of the block's binary CID). */
export function payloadPosition (e: IndexEntry, cidLength: number): number {
  return e.offset + (e.frame !== undefined ? e.frame.payloadAt : RECORD_HEADER_BYTES + cidLength)
}

/**
 * Stored bytes charged to an entry (store counters, GC's live bytes): a block record's
 * whole length; a frame member a share of its frame record proportional to its raw size,
 * cut at floor(total * offset / raw size) so the members' shares add up to the record exactly.
 * A function of the entry alone, so adding and removing an entry count the same.
 */
export function storedBytesOf (e: IndexEntry, cidLength: number): number {
  const f = e.frame
  if (f === undefined) return RECORD_HEADER_BYTES + cidLength + e.length
  if (f.rawSize === 0) return 0
  const total = f.payloadAt + e.length
  return Math.floor(total * (f.at + e.rawSize) / f.rawSize) - Math.floor(total * f.at / f.rawSize)
}

const ENTRY_BYTES = 19
const FRAME_ENTRY_BYTES = 31

/** Index value bytes of an entry. */
export function encodeEntry (e: IndexEntry): Uint8Array {
  // Plain byte stores (one per index entry written: Buffer's checked write* calls were a
  // visible share of an import's commit).
  const b = new Uint8Array(e.frame === undefined ? ENTRY_BYTES : FRAME_ENTRY_BYTES)
  if (!(e.offset >= 0 && e.offset < 2 ** 48 && Number.isInteger(e.offset))) throw new RangeError(`pack offset out of range: ${e.offset}`)
  putU32(b, 0, e.pack)
  putU32(b, 4, e.offset % 0x1_0000_0000)
  const hi = Math.floor(e.offset / 0x1_0000_0000)
  b[8] = hi & 0xff; b[9] = hi >>> 8
  putU32(b, 10, e.length)
  b[14] = e.frame === undefined ? e.flags & ~FLAG_FRAME : e.flags | FLAG_FRAME
  putU32(b, 15, e.rawSize)
  if (e.frame !== undefined) {
    putU32(b, 19, e.frame.at)
    putU32(b, 23, e.frame.rawSize)
    putU32(b, 27, e.frame.payloadAt)
  }
  return b
}

/** Little-endian u32 at `at`; a RangeError for values outside 0..2^32-1 (as Buffer#writeUInt32LE). */
function putU32 (b: Uint8Array, at: number, v: number): void {
  if (!(v >= 0 && v <= 0xffff_ffff && Number.isInteger(v))) throw new RangeError(`index entry field out of range: ${v}`)
  b[at] = v & 0xff; b[at + 1] = (v >>> 8) & 0xff; b[at + 2] = (v >>> 16) & 0xff; b[at + 3] = v >>> 24
}

/** Inverse of encodeEntry; undefined for malformed values. */
export function decodeEntry (bytes: Uint8Array): IndexEntry | undefined {
  if (bytes.length !== ENTRY_BYTES && bytes.length !== FRAME_ENTRY_BYTES) return undefined
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  const flags = b.readUInt8(14)
  // One object shape for both kinds (frame: undefined), so the code that handles entries stays monomorphic.
  const frame = bytes.length === ENTRY_BYTES ? undefined : { at: b.readUInt32LE(19), rawSize: b.readUInt32LE(23), payloadAt: b.readUInt32LE(27) }
  if ((frame === undefined) !== ((flags & FLAG_FRAME) === 0)) return undefined
  return { pack: b.readUInt32LE(0), offset: b.readUIntLE(4, 6), length: b.readUInt32LE(10), flags, rawSize: b.readUInt32LE(15), frame }
}

/** True when two entries locate the same record (and, for members, the same member). */
export function sameLocation (a: IndexEntry, b: IndexEntry): boolean {
  return a.pack === b.pack && a.offset === b.offset && a.length === b.length && a.frame?.at === b.frame?.at
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
