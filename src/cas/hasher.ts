import { createRequire } from 'node:module'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { from } from 'multiformats/hashes/hasher'
import { storeAddon } from './addon.js'
import { BLAKE3_DIGEST_BYTES, BLAKE3_MULTIHASH, DAG_CBOR_CODEC, RAW_CODEC } from './codes.js'

type Blake3 = (bytes: Uint8Array) => Uint8Array

/**
 * Inputs below this size are hashed by the store's addon (native/blake3.c, already loaded by
 * any import or store), larger ones by @napi-rs/blake-hash, loaded on first use: its SIMD is
 * faster on long inputs (64 KiB: 22 vs 29 µs), the addon on short ones (100 bytes: 1.0 vs
 * 2.5 µs; equal at 1 KiB). Loading @napi-rs/blake-hash (its platform probing, then a second
 * native library) took 20-26 ms of CPU, and a directory import of t1 hashes one 90-byte
 * block on this thread (the tree root node): the native ingest threads hash everything else.
 * Both agree on every input (test/cas/blake3-native.test.ts).
 */
const SMALL_INPUT_BYTES = 1024
let small: Blake3 | undefined
let large: Blake3 | undefined

function nativeBlake3 (bytes: Uint8Array): Uint8Array {
  if (bytes.length < SMALL_INPUT_BYTES) {
    small ??= storeAddon()?.blake3 ?? loadBlakeHash()
    return small(bytes)
  }
  large ??= loadBlakeHash()
  return large(bytes)
}

function loadBlakeHash (): Blake3 {
  return (createRequire(import.meta.url)('@napi-rs/blake-hash') as { blake3: Blake3 }).blake3
}

/**
 * BLAKE3-256 as a multiformats MultihashHasher. The native implementation is the only
 * place that computes it, so a faster one can be swapped in here alone.
 */
export const blake3 = from({
  name: 'blake3',
  code: BLAKE3_MULTIHASH,
  encode: (input: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(nativeBlake3(input))
})

/** Raw BLAKE3-256 digest of `bytes` (32 bytes, owned by the caller). Synchronous. */
export function blake3Digest (bytes: Uint8Array): Uint8Array {
  return nativeBlake3(bytes)
}

/** The CIDv1 (raw codec, BLAKE3-256) of a chunk. Synchronous and pure. */
export function cidForChunk (bytes: Uint8Array): CID {
  return CID.createV1(RAW_CODEC, Digest.create(BLAKE3_MULTIHASH, nativeBlake3(bytes)))
}

/** The CIDv1 of an encoded block with codec `codec`, hashed with BLAKE3-256. */
export function cidForBlock (codec: number, bytes: Uint8Array): CID {
  return CID.createV1(codec, Digest.create(BLAKE3_MULTIHASH, nativeBlake3(bytes)))
}

/** True when `bytes` hash to the digest in `cid` (which must use BLAKE3-256). */
export function matchesCid (cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code !== BLAKE3_MULTIHASH) return false
  const digest = nativeBlake3(bytes)
  const expected = cid.multihash.digest
  if (digest.length !== expected.length) return false
  for (let i = 0; i < digest.length; i++) if (digest[i] !== expected[i]) return false
  return true
}

/** Length of a binary raw BLAKE3-256 CIDv1: four one-byte varints (1, raw, blake3, 32), then the digest. */
const RAW_CID_BYTES = 4 + BLAKE3_DIGEST_BYTES

/**
 * The CID whose binary form is `bytes`. The raw BLAKE3-256 CIDv1 of a chunk (what the native
 * ingest loop makes, thousands per import) is built from its known layout without parsing
 * varints or re-encoding (CID.decode did both, and was most of decoding a worker's result);
 * any other form goes through CID.decode. The CID keeps `bytes` (no copy): pass bytes that
 * nothing else will change.
 */
export function cidFromBytes (bytes: Uint8Array): CID {
  if (bytes.length === RAW_CID_BYTES && bytes[0] === 1 && (bytes[1] === RAW_CODEC || bytes[1] === DAG_CBOR_CODEC) && bytes[2] === BLAKE3_MULTIHASH && bytes[3] === BLAKE3_DIGEST_BYTES) {
    return new CID(1, bytes[1], new Digest.Digest(BLAKE3_MULTIHASH, BLAKE3_DIGEST_BYTES, bytes.subarray(4), bytes.subarray(2)), bytes)
  }
  return CID.decode(bytes)
}
