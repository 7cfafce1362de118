import type { CID } from 'multiformats/cid'

/**
 * The constants of tree format v1 and the order of names, without the encoder: modules that
 * only need these (the fast encoders of dir-write-encode.ts, a directory import) do not load
 * @ipld/dag-cbor with codec.ts (~25 ms of CPU; a directory import encodes its nodes natively
 * or in dir-write-encode.ts). codec.ts re-exports all of it and stays the format's definition.
 */
export const FORMAT_VERSION = 1

/** A directory with more entries than this is split into shards of at most this many. */
export const MAX_DIR_ENTRIES = 1024
/** A file index node lists at most this many parts (~64 MiB of content at 64 KiB chunks). */
export const MAX_FILE_PARTS = 1024

/** An encoded node and its CID (dag-cbor, BLAKE3-256). */
export interface EncodedBlock { readonly cid: CID, readonly bytes: Uint8Array }

/** Bytewise (UTF-8) order of names, the order of entries in every directory node. */
export function compareNames (a: string, b: string): number {
  if (a === b) return 0
  // UTF-16 order equals UTF-8 byte order unless a string holds U+D800..U+FFFF: compare as JS
  // strings then (no allocation; this is on every lookup path).
  if (!NEEDS_BYTE_ORDER.test(a) && !NEEDS_BYTE_ORDER.test(b)) return a < b ? -1 : 1
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}
const NEEDS_BYTE_ORDER = /[\ud800-\uffff]/
