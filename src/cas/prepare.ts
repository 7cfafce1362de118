import { CID } from 'multiformats/cid'
import { RAW_CODEC } from './codes.js'
import { compress, compressAsync, STORE_ZSTD_LEVEL } from './compress.js'
import { keepsCompressed, STORE_FRAME_RAW_BYTES, worthCompressing } from './compress-policy.js'
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

export { STORE_FRAME_RAW_BYTES }

/**
 * Largest raw size of a frame of tree nodes: small, because a directory read (ls, NFS LOOKUP)
 * decompresses the whole frame; one zstd call per frame instead of per node, and names repeat
 * across neighbouring directories (t1: 1,086 nodes, 677 kB, stored in 493 kB one by one).
 */
export const NODE_FRAME_RAW_BYTES = 32 * 1024


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
  if (worthCompressing(level, bytes.length)) {
    const packed = compress(bytes, level)
    if (keepsCompressed(packed.length, bytes.length)) {
      return { cid, payload: packed, compressed: true, rawSize: bytes.length }
    }
  }
  return { cid, payload: bytes, compressed: false, rawSize: bytes.length }
}

/**
 * Several blocks stored as one frame record: their bytes concatenated in `members` order and
 * zstd-compressed together when that makes them smaller (see store/pack-format.ts).
 */
export interface PreparedFrame {
  readonly members: ReadonlyArray<{ readonly cid: CID, readonly rawSize: number }>
  /** The concatenated members, zstd-compressed when `compressed`. */
  readonly payload: Uint8Array
  readonly compressed: boolean
  /**
   * Called once by a store that took the frame when it no longer needs `payload`: written
   * and indexed, or not needed (its members were all stored already). The producer may then
   * free the payload's memory (the native ingest threads' message buffers). A store that
   * fails, or a sink that is not a LocalStore, never calls it: the memory is then collected.
   */
  readonly release?: () => void
}

/**
 * A frame of `blocks` (CIDs the caller holds and has verified), compressed at `level` when
 * that saves enough (compress-policy.ts). Synchronous. The payload never aliases the inputs.
 */
export function prepareFrame (blocks: FrameMembers, level = STORE_ZSTD_LEVEL): PreparedFrame {
  const { members, raw } = concatMembers(blocks)
  return frameOf(members, raw, worthCompressing(level, raw.length) ? compress(raw, level) : undefined)
}

/** prepareFrame with the compression on libuv's thread pool (compressAsync), off this thread. */
export async function prepareFrameAsync (blocks: FrameMembers, level = STORE_ZSTD_LEVEL): Promise<PreparedFrame> {
  const { members, raw } = concatMembers(blocks)
  return frameOf(members, raw, worthCompressing(level, raw.length) ? await compressAsync(raw, level) : undefined)
}

type FrameMembers = ReadonlyArray<{ cid: CID, bytes: Uint8Array }>

function concatMembers (blocks: FrameMembers): { members: PreparedFrame['members'], raw: Uint8Array } {
  let total = 0
  for (const b of blocks) total += b.bytes.length
  const raw = new Uint8Array(total)
  let at = 0
  for (const b of blocks) { raw.set(b.bytes, at); at += b.bytes.length }
  return { members: blocks.map((b) => ({ cid: b.cid, rawSize: b.bytes.length })), raw }
}

/** The frame record: `packed` when it saves enough, else the members as they are. */
function frameOf (members: PreparedFrame['members'], raw: Uint8Array, packed: Uint8Array | undefined): PreparedFrame {
  if (packed !== undefined && keepsCompressed(packed.length, raw.length)) return { members, payload: packed, compressed: true }
  return { members, payload: raw, compressed: false }
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

/**
 * Frames of `blocks` in their order (CIDs the caller holds and has verified): raw chunks in
 * frames of up to STORE_FRAME_RAW_BYTES, tree nodes (any other codec) in frames of up to
 * NODE_FRAME_RAW_BYTES, each kind gathered separately so a directory read never decompresses
 * file data. A frame of one block is stored by putFramesMany as a plain block record.
 */
export function frameBlocks (blocks: FrameMembers, level = STORE_ZSTD_LEVEL): PreparedFrame[] {
  return frameGroups(blocks).map((g) => prepareFrame(g, level))
}

/** frameBlocks with the frames compressed in parallel on libuv's thread pool (prepareFrameAsync). */
export async function frameBlocksAsync (blocks: FrameMembers, level = STORE_ZSTD_LEVEL): Promise<PreparedFrame[]> {
  return await Promise.all(frameGroups(blocks).map(async (g) => await prepareFrameAsync(g, level)))
}

/** The members of each frame of frameBlocks. */
function frameGroups<T extends { cid: CID, bytes: Uint8Array }> (blocks: readonly T[]): T[][] {
  const groups: T[][] = []
  for (const { raw, limit } of [{ raw: true, limit: STORE_FRAME_RAW_BYTES }, { raw: false, limit: NODE_FRAME_RAW_BYTES }]) {
    let group: T[] = []
    let size = 0
    for (const b of blocks) {
      if ((b.cid.code === RAW_CODEC) !== raw) continue
      if (group.length > 0 && size + b.bytes.length > limit) { groups.push(group); group = []; size = 0 }
      group.push(b); size += b.bytes.length
    }
    if (group.length > 0) groups.push(group)
  }
  return groups
}
