/**
 * TCP record marking, RFC 5531 §11: a record is a sequence of fragments, each preceded by a
 * 4-byte big-endian header whose top bit marks the last fragment and whose low 31 bits give the
 * fragment's length.
 */

const LAST_FRAGMENT = 0x8000_0000
const LENGTH_MASK = 0x7fff_ffff
const NO_BYTES = new Uint8Array(0)

/** What a RecordDecoder reports. */
export interface RecordSink {
  /** A whole record. The bytes belong to the sink. */
  record (bytes: Uint8Array): void
  /**
   * A record longer than the bound was skipped without being buffered; `head` holds up to its
   * first 4 bytes (the RPC xid, so the caller can reply with an error).
   */
  oversized (head: Uint8Array, size: number): void
}

/**
 * Reassembles records from a byte stream cut anywhere. Memory is bounded by `maxRecordSize`
 * (plus one input chunk): a record that grows past it is discarded as it streams in and
 * reported through `oversized`. Not reentrant; feed chunks in order with `push`.
 */
export class RecordDecoder {
  readonly #sink: RecordSink
  readonly #max: number
  /** The record mark being read, byte by byte (a fragment header may be cut anywhere). */
  #header = 0
  #headerHave = 0
  #fragLeft = 0
  #last = false
  #inFragment = false
  #pieces: Uint8Array[] = []
  #size = 0
  #discarding = false
  #head = NO_BYTES

  constructor (sink: RecordSink, maxRecordSize: number) {
    if (!(maxRecordSize > 0 && maxRecordSize <= LENGTH_MASK)) throw new RangeError('maxRecordSize out of range')
    this.#sink = sink
    this.#max = maxRecordSize
  }

  /** True when no partial record is buffered (a clean place for the stream to end). */
  get idle (): boolean { return !this.#inFragment && this.#headerHave === 0 && this.#size === 0 && !this.#discarding }

  /** Feeds the next bytes of the stream. `chunk` may be retained (views) until the record is delivered. */
  push (chunk: Uint8Array): void {
    let at = 0
    while (at < chunk.length) {
      if (!this.#inFragment) {
        while (this.#headerHave < 4 && at < chunk.length) {
          this.#header = this.#header * 256 + chunk[at++]!
          this.#headerHave++
        }
        if (this.#headerHave < 4) return
        this.#headerHave = 0
        this.#startFragment()
        if (this.#fragLeft === 0 && this.#last) { this.#finish(); continue }
        if (this.#fragLeft === 0) { this.#inFragment = false; continue }
        continue
      }
      const take = Math.min(this.#fragLeft, chunk.length - at)
      const piece = chunk.subarray(at, at + take)
      at += take
      this.#fragLeft -= take
      if (this.#discarding) this.#keepHead(piece)
      else this.#pieces.push(piece)
      if (this.#fragLeft === 0) {
        this.#inFragment = false
        if (this.#last) this.#finish()
      }
    }
  }

  #startFragment (): void {
    const h = this.#header
    this.#header = 0
    this.#last = h >= LAST_FRAGMENT
    this.#fragLeft = h & LENGTH_MASK
    this.#inFragment = true
    this.#size += this.#fragLeft
    if (!this.#discarding && this.#size > this.#max) {
      // Switch to discarding: keep only the first 4 bytes (the xid) of what was buffered.
      this.#discarding = true
      for (const p of this.#pieces) this.#keepHead(p)
      this.#pieces = []
    }
  }

  #keepHead (piece: Uint8Array): void {
    if (this.#head.length >= 4 || piece.length === 0) return
    const want = 4 - this.#head.length
    const next = new Uint8Array(this.#head.length + Math.min(want, piece.length))
    next.set(this.#head)
    next.set(piece.subarray(0, next.length - this.#head.length), this.#head.length)
    this.#head = next
  }

  #finish (): void {
    this.#inFragment = false
    const size = this.#size
    if (this.#discarding) {
      const head = this.#head
      this.#discarding = false
      this.#head = NO_BYTES
      this.#size = 0
      this.#sink.oversized(head, size)
      return
    }
    const pieces = this.#pieces
    this.#pieces = []
    this.#size = 0
    this.#sink.record(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, size))
  }
}

/** Frames `length` bytes as one last fragment: returns the 4-byte record mark. */
export function recordMark (length: number): Uint8Array {
  const h = new Uint8Array(RECORD_MARK_BYTES)
  setRecordMark(h, length)
  return h
}

/** Bytes of a record mark. */
export const RECORD_MARK_BYTES = 4

/** Writes the record mark of one last fragment of `length` bytes into `target[0..4)`. */
export function setRecordMark (target: Uint8Array, length: number): void {
  if (!(length >= 0 && length <= LENGTH_MASK)) throw new RangeError('record too long for one fragment')
  target[0] = 0x80 | (length >>> 24)
  target[1] = (length >>> 16) & 0xff
  target[2] = (length >>> 8) & 0xff
  target[3] = length & 0xff
}
