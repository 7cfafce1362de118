import { Readable } from 'node:stream'
import zstd from 'zstd-napi'

/**
 * Streaming zstd for HTTP bodies (`Content-Encoding: zstd`): the CAR streams of blocks are
 * compressed as one stream, so the window spans block boundaries (similar files and the
 * tail of one chunk with the head of the next compress together). Long-distance matching
 * and a 64 MiB window at level 6+ catch repeats across files far apart.
 */
export const ZSTD_ENCODING = 'zstd'
/**
 * Default level for transfers (XENO_SYNC_ZSTD_LEVEL overrides; 0 disables compression).
 * Measured here on 100 MB of Debian /usr/lib (--long=26, one thread): level 3 32.5 MB in
 * 1.2 s, level 6 30.8 MB in 4.5 s, level 9 29.9 MB in 17 s; 6 keeps a LAN transfer fast.
 */
export const DEFAULT_ZSTD_LEVEL = 6
/** Highest level a client may ask the server for (level 19 is ~1-3 MB/s here: fine for a WAN, not a LAN). */
export const MAX_ZSTD_LEVEL = 19

/** A link whose round trip exceeds this is a wide-area link, where bytes cost more than CPU. */
export const WAN_LATENCY_MS = 30
/** Level on a wide-area link: ~1-3 MB/s of input here, still far above such a link's rate, so the CPU time hides behind the transfer. */
export const WAN_ZSTD_LEVEL = 19

/**
 * The transfer level: XENO_SYNC_ZSTD_LEVEL when set; else WAN_ZSTD_LEVEL when the measured
 * round trip to the peer (`latencyMs`) says wide-area, DEFAULT_ZSTD_LEVEL otherwise. Clamped to [0, MAX].
 */
export function transferLevel (latencyMs = 0): number {
  const env = process.env.XENO_SYNC_ZSTD_LEVEL
  const auto = Number.isFinite(latencyMs) && latencyMs > WAN_LATENCY_MS ? WAN_ZSTD_LEVEL : DEFAULT_ZSTD_LEVEL
  const n = env === undefined || env === '' ? auto : Number(env)
  return Number.isInteger(n) ? Math.max(0, Math.min(MAX_ZSTD_LEVEL, n)) : auto
}

/** zstd-compresses a byte stream at `level` (the consumer owns every yielded array). */
export async function * compressStream (source: AsyncIterable<Uint8Array>, level: number): AsyncIterable<Uint8Array> {
  const params: zstd.CompressParameters = level >= 6
    ? { compressionLevel: level, windowLog: 26, enableLongDistanceMatching: true }
    : { compressionLevel: level }
  const input = Readable.from(source)
  const out = new zstd.CompressStream(params)
  input.on('error', (err) => out.destroy(err))
  yield * input.pipe(out) as AsyncIterable<Uint8Array>
}

/** Decompresses a zstd byte stream. Malformed input throws from the iteration. */
export async function * decompressStream (source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const input = Readable.from(source)
  const out = new zstd.DecompressStream()
  input.on('error', (err) => out.destroy(err))
  yield * input.pipe(out) as AsyncIterable<Uint8Array>
}
