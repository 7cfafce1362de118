import zstd from 'zstd-napi'

/**
 * zstd for stored and transferred chunks, behind one small module (zstd-napi: native,
 * ~500 MB/s at level 1 on this machine, 4x deflate at a better ratio).
 */
const DEFAULT_LEVEL = 1

/**
 * zstd level of stored chunks. Level 2 measured on the Debian minbase tree (7,116 unique chunks,
 * 195.5 MB): 96.5 MB at 248 MB/s of CPU, against 97.9 MB at 241 MB/s for level 1 and 95.6 MB at
 * 180 MB/s for level 3 (scratch measurement, each chunk compressed alone).
 */
export const STORE_ZSTD_LEVEL = 2

let compressor: zstd.Compressor | undefined
let decompressor: zstd.Decompressor | undefined

/** zstd-compress `bytes` at `level` (default 1). The result is owned by the caller. */
export function compress (bytes: Uint8Array, level = DEFAULT_LEVEL): Uint8Array {
  if (level !== DEFAULT_LEVEL) return zstd.compress(bytes, { compressionLevel: level })
  if (compressor === undefined) {
    compressor = new zstd.Compressor()
    compressor.setParameters({ compressionLevel: DEFAULT_LEVEL })
  }
  return compressor.compress(bytes)
}

/** Decompress a whole zstd frame. Throws on malformed input. */
export function decompress (bytes: Uint8Array): Uint8Array {
  if (decompressor === undefined) decompressor = new zstd.Decompressor()
  return decompressor.decompress(bytes)
}

/** Compress with a reference ("dictionary") of related bytes, e.g. the old version of a file. */
export function compressWithReference (bytes: Uint8Array, reference: Uint8Array, level = 3): Uint8Array {
  const c = new zstd.Compressor()
  c.setParameters({ compressionLevel: level })
  c.loadDictionary(Buffer.from(reference.buffer, reference.byteOffset, reference.byteLength))
  return c.compress(bytes)
}

/** Inverse of compressWithReference; `reference` must be the same bytes. */
export function decompressWithReference (bytes: Uint8Array, reference: Uint8Array): Uint8Array {
  const d = new zstd.Decompressor()
  d.loadDictionary(Buffer.from(reference.buffer, reference.byteOffset, reference.byteLength))
  return d.decompress(bytes)
}
