import { blake3 as nativeBlake3 } from '@napi-rs/blake-hash'
import { BLAKE3_DIGEST_BYTES, BLAKE3_MULTIHASH, RAW_CODEC } from './codes.js'

/**
 * The binary CIDv1 of a raw chunk (BLAKE3-256), built without multiformats: version 1, codec
 * raw, multihash blake3 of 32 bytes are each one varint byte, so the CID is those four bytes
 * and the digest. For the ingest workers, which need only the bytes, and skip loading
 * multiformats and building a CID object per chunk. Equal to cidForChunk(bytes).bytes
 * (test/cas/raw-cid.test.ts).
 */
export function rawChunkCidBytes (bytes: Uint8Array): Uint8Array {
  const digest = nativeBlake3(bytes)
  const out = new Uint8Array(RAW_CID_PREFIX.length + BLAKE3_DIGEST_BYTES)
  out.set(RAW_CID_PREFIX, 0)
  out.set(digest, RAW_CID_PREFIX.length)
  return out
}

/** Bytes before the digest in rawChunkCidBytes (each value is below 0x80: one varint byte). */
export const RAW_CID_PREFIX = Uint8Array.of(1, RAW_CODEC, BLAKE3_MULTIHASH, BLAKE3_DIGEST_BYTES)
