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
 * Default level for transfers on a LAN (XENO_SYNC_ZSTD_LEVEL overrides; 0 disables compression).
 * On a LAN the CPU, not the link, bounds a transfer, and one XenoStore serves a whole fleet:
 * pulling t1 (196 MB of blocks) over loopback cost the serving process 7.1 s of CPU at level 6
 * (75.7 MB on the wire) and 2.7 s at level 1 (91.7 MB); `bench/deploy-bytes` t1 -> t1-apache
 * took 13.4 s at level 6 and 3.9 s at level 1 (rsync -z 8.6 s), with changed files still sent
 * as deltas at level 6 or more (routes-blocks.ts). Even 100 Mbit/s carries level 1's output
 * about as fast as level 6 produces its own.
 */
export const DEFAULT_ZSTD_LEVEL = 1
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
