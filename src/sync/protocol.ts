import { CID } from 'multiformats/cid'
import { pack, unpack } from 'msgpackr'
import { DAG_CBOR_CODEC, RAW_CODEC } from '../cas/codes.js'
import { BadRequestError, TooLargeError } from './errors.js'

/**
 * The XenoStore HTTP protocol, version 1. Every route is under /v1. Small messages are
 * msgpack (`application/x-msgpack`); blocks travel as CAR v1 streams
 * (`application/vnd.ipld.car`); name records are JSON (they are signed, see names.ts).
 *
 *   GET  /v1/health                          -> { ok, version, open }            (JSON)
 *   POST /v1/has    HasRequest               -> HasResponse (bitmap)              (msgpack)
 *   POST /v1/want   WantRequest              -> CAR stream of the blocks it has
 *   PUT  /v1/blocks CAR stream               -> UploadResult                      (msgpack)
 *   GET  /v1/blocks/:cid                     -> raw block bytes
 *   GET  /v1/names?prefix=P                  -> { names: NameRecord[] }           (JSON)
 *   GET  /v1/names/<name>                    -> NameRecord                        (JSON)
 *   PUT  /v1/names/<name>  NameRecord        -> NameRecord                        (JSON)
 *
 * Auth: `Authorization: Bearer <token>` when the server has a tenant config.
 * Errors: `{ error: { code, message } }` (JSON) with the status of the error class.
 */
export const PROTOCOL_VERSION = 1
export const PREFIX = '/v1'
export const ROUTES = {
  health: `${PREFIX}/health`,
  has: `${PREFIX}/has`,
  want: `${PREFIX}/want`,
  blocks: `${PREFIX}/blocks`,
  names: `${PREFIX}/names`
} as const

export const MEDIA = { msgpack: 'application/x-msgpack', car: 'application/vnd.ipld.car', json: 'application/json', raw: 'application/octet-stream' } as const

/** Default limits (each overridable in the server options / config). */
export const DEFAULT_MAX_CIDS_PER_REQUEST = 65_536
export const DEFAULT_MAX_MESSAGE_BYTES_4MIB = 4 * 1024 * 1024
export const DEFAULT_MAX_CAR_BYTES_2GIB = 2 * 1024 * 1024 * 1024
/** Largest block accepted in a CAR (chunks are at most 256 KiB; tree nodes stay far below this). */
export const DEFAULT_MAX_BLOCK_BYTES_4MIB = 4 * 1024 * 1024

/** `has`: which of `cids` does the server hold (for this tenant)? `cids` is CID bytes back to back. */
export interface HasRequest { v: 1, cids: Uint8Array }
/** Bit i (LSB-first in byte i>>3) is set when the i-th requested CID is present. */
export interface HasResponse { v: 1, count: number, have: Uint8Array }
/**
 * `want`: either explicit `cids`, answered in that order, or the tree-node closure of `root`:
 * every dag-cbor node reachable from `root` (no raw chunks), skipping subtrees whose node is
 * also a node of the tree `base` (what the client already holds). Absent blocks are left out.
 * `cids` with `root` and `base`: the client holds tree `base`, so chunks of files of `root`
 * that changed from `base` may come as delta blocks (see delta.ts) instead of themselves.
 */
export interface WantRequest { v: 1, cids?: Uint8Array, root?: Uint8Array, base?: Uint8Array }
/** Result of an upload: blocks in the CAR, of which newly stored, and bytes of block data. */
export interface UploadResult { v: 1, blocks: number, stored: number, bytes: number }

/** Packs CIDs back to back (each CID's binary form is self-delimiting). */
export function packCids (cids: readonly CID[]): Uint8Array {
  let total = 0
  for (const c of cids) total += c.bytes.length
  const out = new Uint8Array(total)
  let off = 0
  for (const c of cids) { out.set(c.bytes, off); off += c.bytes.length }
  return out
}

/** Inverse of packCids. Throws BadRequestError on garbage, TooLargeError over `max` CIDs. */
export function unpackCids (bytes: Uint8Array, max = DEFAULT_MAX_CIDS_PER_REQUEST): CID[] {
  const out: CID[] = []
  let rest = bytes
  while (rest.length > 0) {
    if (out.length >= max) throw new TooLargeError(`more than ${max} CIDs in one request`)
    let cid: CID
    try { [cid, rest] = CID.decodeFirst(rest) } catch (err) { throw new BadRequestError('bad CID in request', { cause: err }) }
    if (cid.version !== 1 || (cid.code !== RAW_CODEC && cid.code !== DAG_CBOR_CODEC)) throw new BadRequestError(`unsupported CID ${cid}`)
    out.push(cid)
  }
  return out
}

/** A bitmap of `flags` (LSB-first). */
export function toBitmap (flags: readonly boolean[]): Uint8Array {
  const out = new Uint8Array((flags.length + 7) >> 3)
  flags.forEach((f, i) => { if (f) out[i >> 3] |= 1 << (i & 7) })
  return out
}

/** Bit `i` of a bitmap. */
export function bitAt (bitmap: Uint8Array, i: number): boolean {
  return ((bitmap[i >> 3] ?? 0) & (1 << (i & 7))) !== 0
}

/** msgpack-encodes a protocol message. */
export function encodeMessage (message: object): Uint8Array { return pack(message) }

/** Decodes a msgpack message and checks it is a v1 map. Throws BadRequestError. */
export function decodeMessage<T extends { v: 1 }> (bytes: Uint8Array): T {
  let value: unknown
  try { value = unpack(bytes) } catch (err) { throw new BadRequestError('body is not valid msgpack', { cause: err }) }
  if (typeof value !== 'object' || value === null || (value as { v?: unknown }).v !== PROTOCOL_VERSION) {
    throw new BadRequestError(`not a protocol v${PROTOCOL_VERSION} message`)
  }
  return value as T
}

/** Decodes one CID from its binary form; throws BadRequestError. */
export function cidFromBytes (bytes: unknown): CID {
  if (!(bytes instanceof Uint8Array)) throw new BadRequestError('expected CID bytes')
  const [cid] = unpackCids(bytes, 1)
  if (cid === undefined) throw new BadRequestError('empty CID')
  return cid
}
