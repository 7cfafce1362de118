import { createRequire } from 'node:module'
import type ZstdNapi from 'zstd-napi'
import { storeAddon } from './addon.js'
import { AddonMissingError } from './errors.js'

/**
 * zstd for stored and transferred chunks, behind one small module (zstd-napi: native,
 * ~500 MB/s at level 1 on this machine, 4x deflate at a better ratio).
 */
const DEFAULT_LEVEL = 1

export { STORE_ZSTD_LEVEL } from './compress-policy.js'

/**
 * zstd-napi, loaded on first use (a CommonJS module, so synchronously): a directory import
 * compresses everything in native code (the ingest threads, zstdCompressAsync) and never
 * needs it, and loading it cost ~20 ms of the import's main thread before its work began.
 */
let zstdNapi: typeof ZstdNapi | undefined
function zstd (): typeof ZstdNapi {
  return zstdNapi ??= createRequire(import.meta.url)('zstd-napi') as typeof ZstdNapi
}

// One context of each kind, reused (compression is synchronous): a context per call would hold
// its native tables (hundreds of MiB at high levels) until the JS GC runs.
let compressor: ZstdNapi.Compressor | undefined
let decompressor: ZstdNapi.Decompressor | undefined
let referenceCompressor: ZstdNapi.Compressor | undefined
let referenceDecompressor: ZstdNapi.Decompressor | undefined

/** Largest window a reference (de)compression may use: 128 MiB. */
const WINDOW_LOG_MAX = 27

/** zstd-compress `bytes` at `level` (default 1). The result is owned by the caller. */
export function compress (bytes: Uint8Array, level = DEFAULT_LEVEL): Uint8Array {
  const c = compressor ??= new (zstd().Compressor)()
  c.setParameters({ compressionLevel: level })
  return c.compress(bytes)
}

/**
 * compress() on libuv's thread pool (native/zstd-async.c), so the event loop goes on meanwhile
 * and several frames compress at once; in place here when the addon is not built. `bytes`
 * must not change until the promise settles.
 */
export async function compressAsync (bytes: Uint8Array, level = DEFAULT_LEVEL): Promise<Uint8Array> {
  const native = storeAddon()?.zstdCompressAsync
  return native !== undefined ? await native(bytes, level) : compress(bytes, level)
}

/** Decompress a whole zstd frame. Throws on malformed input. */
export function decompress (bytes: Uint8Array): Uint8Array {
  const d = decompressor ??= new (zstd().Decompressor)()
  return d.decompress(bytes)
}

/**
 * zstd of `bytes` with `reference` (related bytes, e.g. the old version of a file) as a
 * raw-content dictionary, with a window wide enough to reach all of it.
 */
export function compressWithReference (bytes: Uint8Array, reference: Uint8Array, level: number): Uint8Array {
  const c = referenceCompressor ??= new (zstd().Compressor)()
  c.setParameters({ compressionLevel: level, windowLog: referenceWindowLog(bytes, reference) })
  c.loadDictionary(Buffer.from(reference.buffer, reference.byteOffset, reference.byteLength))
  return c.compress(bytes)
}

/**
 * compressWithReference on libuv's thread pool (the reference as zstd's raw-content prefix:
 * the same history decompressWithReference gives the reader), so a store answering many
 * updates computes several deltas at once. Needs the addon (AddonMissingError): zstd-napi
 * would load the reference as a dictionary, which a reference that starts like one breaks.
 * Neither input may change until the promise settles.
 */
export async function compressWithReferenceAsync (bytes: Uint8Array, reference: Uint8Array, level: number): Promise<Uint8Array> {
  const native = storeAddon()?.zstdCompressWithPrefixAsync
  if (native === undefined) throw new AddonMissingError('zstd reference compression')
  return await native(bytes, reference, level, referenceWindowLog(bytes, reference))
}

/** A window that reaches from the end of `bytes` back to the start of `reference`. */
function referenceWindowLog (bytes: Uint8Array, reference: Uint8Array): number {
  return Math.min(WINDOW_LOG_MAX, Math.max(20, Math.ceil(Math.log2(reference.length + bytes.length + 1))))
}

/**
 * Inverse of compressWithReference(Async), at most `maxBytes` out, on libuv's thread pool: the
 * reference as raw content whatever its first bytes (a reference that starts like a zstd
 * dictionary made decompressWithReference fail). Rejects on malformed input; needs the addon
 * (AddonMissingError).
 */
export async function decompressWithReferenceAsync (bytes: Uint8Array, reference: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const native = storeAddon()?.zstdDecompressWithPrefixAsync
  if (native === undefined) throw new AddonMissingError('zstd reference decompression')
  return await native(bytes, reference, maxBytes)
}

/** Inverse of compressWithReference; `reference` must be the same bytes. Throws on malformed input. */
export function decompressWithReference (bytes: Uint8Array, reference: Uint8Array): Uint8Array {
  const d = referenceDecompressor ??= new (zstd().Decompressor)()
  d.setParameters({ windowLogMax: WINDOW_LOG_MAX })
  d.loadDictionary(Buffer.from(reference.buffer, reference.byteOffset, reference.byteLength))
  return d.decompress(bytes)
}
