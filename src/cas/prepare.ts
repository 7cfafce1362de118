import { CID } from 'multiformats/cid'
import { RAW_CODEC } from './codes.js'
import { compress, STORE_ZSTD_LEVEL } from './compress.js'
import { cidForBlock } from './hasher.js'

/**
 * A block ready to be appended to a store: its CID (computed from the bytes), and the
 * payload to write, zstd-compressed when that makes it smaller. Everything here is plain
 * data except `cid`; to send one across `postMessage`, send `cid.bytes` and rebuild it with
 * `CID.decode` (or use toTransferable/fromTransferable).
 */
export interface PreparedChunk {
  readonly cid: CID
  /** Bytes to store: the zstd frame when `compressed`, else the block itself. */
  readonly payload: Uint8Array
  readonly compressed: boolean
  /** Length of the block itself. */
  readonly rawSize: number
}

export interface PrepareOptions {
  /** Multicodec of the block: raw (0x55, default) for chunks, dag-cbor (0x71) for tree nodes. */
  readonly codec?: number
  /** zstd level (default 1); 0 disables compression. */
  readonly level?: number
}

/** Blocks smaller than this are stored as they are: zstd cannot win enough to pay its frame. */
const MIN_COMPRESS_BYTES = 64
/** Keep the compressed form only when it saves at least this many bytes. */
const MIN_SAVING_BYTES = 16

/**
 * Hashes `bytes` (BLAKE3-256, CIDv1 of `options.codec`) and compresses them when that helps.
 * Pure and synchronous, so it runs inside worker_threads. `payload` may be `bytes` itself
 * when stored uncompressed: the caller must not modify `bytes` afterwards.
 */
export function prepareChunk (bytes: Uint8Array, options: PrepareOptions = {}): PreparedChunk {
  return preparePayload(cidForBlock(options.codec ?? RAW_CODEC, bytes), bytes, options.level)
}

/** prepareChunk for a CID the caller already holds (and has verified). Synchronous. */
export function preparePayload (cid: CID, bytes: Uint8Array, level = STORE_ZSTD_LEVEL): PreparedChunk {
  if (level > 0 && bytes.length >= MIN_COMPRESS_BYTES) {
    const packed = compress(bytes, level)
    if (packed.length + MIN_SAVING_BYTES <= bytes.length) {
      return { cid, payload: packed, compressed: true, rawSize: bytes.length }
    }
  }
  return { cid, payload: bytes, compressed: false, rawSize: bytes.length }
}

/** A structured-clone-safe form of a PreparedChunk (for worker_threads messages). */
export interface TransferablePrepared {
  readonly cid: Uint8Array
  readonly payload: Uint8Array
  readonly compressed: boolean
  readonly rawSize: number
}

/** Plain-data form of `p` (the CID as bytes). */
export function toTransferable (p: PreparedChunk): TransferablePrepared {
  return { cid: p.cid.bytes, payload: p.payload, compressed: p.compressed, rawSize: p.rawSize }
}

/** Inverse of toTransferable. Throws on malformed CID bytes. */
export function fromTransferable (t: TransferablePrepared): PreparedChunk {
  return { cid: CID.decode(t.cid), payload: t.payload, compressed: t.compressed, rawSize: t.rawSize }
}
