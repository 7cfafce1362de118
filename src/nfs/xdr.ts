import { XdrError } from './errors.js'

/**
 * XDR (RFC 4506) decoding and encoding: big-endian 4-byte units, opaque data and strings padded
 * to a multiple of 4 with zero bytes.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true })
const UINT32_MAX = 0xffff_ffff

/** Number of zero bytes that pad `n` bytes to a 4-byte boundary (RFC 4506 §4.10). */
export function pad4 (n: number): number { return (4 - (n & 3)) & 3 }

/**
 * Reads XDR from one buffer. Every method throws XdrError (code NFS_BAD_XDR) when the data runs
 * out, a length exceeds its bound, a bool or optional discriminant is not 0 or 1, or a string is
 * not UTF-8; it never reads past the buffer. `opaque*` return views into the buffer: they stay
 * valid as long as the buffer, which belongs to the caller.
 */
export class XdrReader {
  readonly #bytes: Uint8Array
  #pos: number

  // No DataView: constructing one per message (a C++ builtin, and `.buffer` of a small on-heap
  // array allocates a backing store) cost more than reading the bytes here.
  constructor (bytes: Uint8Array, offset = 0) {
    this.#bytes = bytes
    this.#pos = offset
  }

  /** Offset of the next unread byte. */
  get position (): number { return this.#pos }
  /** Bytes not yet read. */
  get remaining (): number { return this.#bytes.length - this.#pos }

  #need (n: number, what: string): number {
    if (n > this.#bytes.length - this.#pos) throw new XdrError(`${what} runs past the end (${n} bytes wanted, ${this.remaining} left)`)
    const at = this.#pos
    this.#pos += n
    return at
  }

  /** unsigned int (RFC 4506 §4.2). */
  uint32 (): number { return readUint32(this.#bytes, this.#need(4, 'unsigned int')) }
  /** int (RFC 4506 §4.1). */
  int32 (): number { return readUint32(this.#bytes, this.#need(4, 'int')) | 0 }
  /** unsigned hyper (RFC 4506 §4.5). */
  uint64 (): bigint {
    const at = this.#need(8, 'unsigned hyper')
    return (BigInt(readUint32(this.#bytes, at)) << 32n) | BigInt(readUint32(this.#bytes, at + 4))
  }

  /** hyper (RFC 4506 §4.5). */
  int64 (): bigint {
    const at = this.#need(8, 'hyper')
    return (BigInt(readUint32(this.#bytes, at) | 0) << 32n) | BigInt(readUint32(this.#bytes, at + 4))
  }

  /** bool (RFC 4506 §4.4): anything but 0 or 1 is an error. */
  bool (): boolean {
    const v = this.uint32()
    if (v > 1) throw new XdrError(`bool is ${v}`)
    return v === 1
  }

  /** Fixed-length opaque (RFC 4506 §4.9), padding skipped. */
  opaqueFixed (n: number): Uint8Array {
    const at = this.#need(n + pad4(n), 'fixed opaque')
    return this.#bytes.subarray(at, at + n)
  }

  /** Variable-length opaque<max> (RFC 4506 §4.10): a length above `max` is an error. */
  opaque (max = UINT32_MAX): Uint8Array {
    const n = this.uint32()
    if (n > max) throw new XdrError(`opaque of ${n} bytes exceeds its bound of ${max}`)
    return this.opaqueFixed(n)
  }

  /** string<max> (RFC 4506 §4.11), decoded as UTF-8. */
  string (max = UINT32_MAX): string {
    const bytes = this.opaque(max)
    try {
      return utf8.decode(bytes)
    } catch (err) {
      throw new XdrError('string is not UTF-8', { cause: err })
    }
  }

  /** Optional-data discriminant (RFC 4506 §4.19): true when a value follows. */
  optional (): boolean { return this.bool() }

  /** The bytes not yet read, as a view (nothing is consumed). */
  rest (): Uint8Array { return this.#bytes.subarray(this.#pos) }

  /** Asserts every byte was consumed (trailing garbage is GARBAGE_ARGS for RPC). */
  end (): void {
    if (this.remaining !== 0) throw new XdrError(`${this.remaining} trailing bytes`)
  }
}

const INITIAL_SIZE = 512
/** Below this, a by-reference opaque is copied: a piece of its own costs more than the copy. */
const BY_REFERENCE_MIN_BYTES = 4096

/**
 * Writer buffers come uninitialised from Node's pool (one per reply: a zero-filled ArrayBuffer
 * each cost more than the encoding). Safe because every method writes each byte it reserves.
 */
function scratch (size: number): Buffer { return Buffer.allocUnsafe(size) }

/** Big-endian unsigned 32-bit integer at `at`. */
function readUint32 (b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0
}

/** Writes `v` (any 32-bit pattern) big-endian at `at`. */
function writeUint32 (b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24
  b[at + 1] = (v >>> 16) & 0xff
  b[at + 2] = (v >>> 8) & 0xff
  b[at + 3] = v & 0xff
}
/** What a finished writer holds: nothing to allocate for it. */
const EMPTY = Buffer.alloc(0)

/**
 * Builds XDR into a growable buffer. Cannot fail for in-range values; out-of-range numbers are
 * programming errors (RangeError). `opaqueRef` appends large payloads by reference (no copy),
 * so the output is a list of pieces: see `pieces()`.
 */
export class XdrWriter {
  #buf: Buffer
  #pos = 0
  readonly #done: Uint8Array[] = []
  #doneLength = 0

  constructor (size = INITIAL_SIZE) {
    this.#buf = scratch(size)
  }

  /** Total bytes written so far. */
  get length (): number { return this.#doneLength + this.#pos }

  #room (n: number): number {
    if (this.#pos + n > this.#buf.length) {
      const next = scratch(Math.max(this.#buf.length * 2, this.#pos + n))
      next.set(this.#buf.subarray(0, this.#pos))
      this.#buf = next
    }
    const at = this.#pos
    this.#pos += n
    return at
  }

  uint32 (v: number): this {
    if (!(v >= 0 && v <= UINT32_MAX && Number.isInteger(v))) throw new RangeError(`uint32 out of range: ${v}`)
    const at = this.#room(4) // first: it may replace #buf
    writeUint32(this.#buf, at, v)
    return this
  }

  int32 (v: number): this {
    const at = this.#room(4)
    writeUint32(this.#buf, at, v)
    return this
  }

  // Both wrap modulo 2^64, as DataView's setters did.
  uint64 (v: bigint | number): this { return this.#hyper(BigInt.asUintN(64, BigInt(v))) }
  int64 (v: bigint | number): this { return this.#hyper(BigInt.asUintN(64, BigInt(v))) }

  /** 64 bits (an unsigned pattern) big-endian. */
  #hyper (b: bigint): this {
    const at = this.#room(8)
    writeUint32(this.#buf, at, Number(b >> 32n))
    writeUint32(this.#buf, at + 4, Number(b & 0xffff_ffffn))
    return this
  }

  bool (v: boolean): this { return this.uint32(v ? 1 : 0) }

  /** Fixed-length opaque: copies `bytes` and zero padding. */
  opaqueFixed (bytes: Uint8Array): this {
    const at = this.#room(bytes.length + pad4(bytes.length))
    this.#buf.set(bytes, at)
    this.#buf.fill(0, at + bytes.length, this.#pos)
    return this
  }

  /** Variable-length opaque: length, bytes (copied), padding. */
  opaque (bytes: Uint8Array): this { return this.uint32(bytes.length).opaqueFixed(bytes) }

  /**
   * Variable-length opaque appended by reference: `bytes` is not copied and must not change until
   * the writer's pieces have been sent.
   */
  opaqueRef (bytes: Uint8Array): this {
    if (bytes.length < BY_REFERENCE_MIN_BYTES) return this.opaque(bytes)
    return this.opaqueRefs([bytes])
  }

  /**
   * Variable-length opaque whose bytes are `parts` in order, each appended by reference like
   * `opaqueRef` (small ones are copied): a READ reply sends cached chunks as they are.
   */
  opaqueRefs (parts: readonly Uint8Array[]): this {
    let n = 0
    for (const part of parts) n += part.length
    this.uint32(n)
    for (const part of parts) {
      if (part.length < BY_REFERENCE_MIN_BYTES) {
        const at = this.#room(part.length) // first: it may replace #buf
        this.#buf.set(part, at)
        continue
      }
      this.#flush()
      this.#done.push(part)
      this.#doneLength += part.length
    }
    const p = pad4(n)
    if (p > 0) { const at = this.#room(p); this.#buf.fill(0, at, this.#pos) }
    return this
  }

  /** string (RFC 4506 §4.11) as UTF-8, encoded straight into the buffer. */
  string (s: string): this {
    const n = Buffer.byteLength(s)
    this.uint32(n)
    const at = this.#room(n + pad4(n))
    const written = this.#buf.write(s, at, n, 'utf8')
    this.#buf.fill(0, at + written, this.#pos)
    return this
  }

  #flush (fresh = INITIAL_SIZE): void {
    if (this.#pos === 0) return
    this.#done.push(this.#buf.subarray(0, this.#pos))
    this.#doneLength += this.#pos
    this.#buf = fresh === 0 ? EMPTY : scratch(fresh)
    this.#pos = 0
  }

  /** The encoded bytes as pieces in order (views; the writer must not be used afterwards). */
  pieces (): Uint8Array[] {
    this.#flush(0) // the writer is done: no fresh buffer for it
    return this.#done
  }

  /** The encoded bytes as one array (copies when there is more than one piece). */
  bytes (): Uint8Array {
    const pieces = this.pieces()
    if (pieces.length === 1) return pieces[0]!
    return Buffer.concat(pieces)
  }
}
