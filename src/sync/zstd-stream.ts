import { storeAddon, type StoreAddon } from '../cas/addon.js'
import { AddonMissingError } from '../cas/errors.js'

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
 * (75.7 MB on the wire) when compression ran on its event loop. With the streams on the thread
 * pool (2026-11-26, loopback, load 4-5): t1 -> t1-apache 40.7 MB / 3.3 s at level 1, 36.9 MB /
 * 3.3 s at level 3 (rsync -z 37.6 MB), 33.9 MB / 7.7 s at level 6; t1 -> t1-upgraded 11.5 MB
 * and 10.6 MB at levels 1 and 3 in the same time; a whole t1 92 MB / 4.3 s at level 1, 84 MB /
 * 5.4 s at level 3 (serving CPU 2.6 -> 4.2 s). Level 3 moves fewer bytes than rsync on updates
 * at no cost in time there; changed files still go as deltas at level 6 or more (routes-blocks.ts).
 */
export const DEFAULT_ZSTD_LEVEL = 3
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

/** Input gathered per compression step (the CAR encoder yields many small pieces). */
const STEP_BYTES = 256 * 1024
/** Most output one decompression step may make (a small hostile input can expand a lot). */
const MAX_STEP_OUTPUT = 4 * 1024 * 1024

/**
 * The thread-pool zstd streams of the addon (native/zstd-async.c). Required: the addon is built
 * with the rest of xeno (imports and exports need it too). The zstd-napi streams that stood in
 * without it gave a small hostile input's whole expansion as one piece, errors without a code
 * and no check for a stream that ends inside a frame; they are gone rather than kept untested.
 */
function poolZstd (): Required<Pick<StoreAddon, 'zstdStreamCreate' | 'zstdStreamCompress' | 'zstdDStreamCreate' | 'zstdDStreamDecompress' | 'zstdStreamFree'>> {
  const a = storeAddon()
  if (a?.zstdStreamCreate === undefined || a.zstdStreamCompress === undefined || a.zstdDStreamCreate === undefined ||
    a.zstdDStreamDecompress === undefined || a.zstdStreamFree === undefined) throw new AddonMissingError('zstd streams')
  return a as Required<StoreAddon>
}

/**
 * zstd-compresses a byte stream at `level` (the consumer owns every yielded array). The
 * compression runs on libuv's thread pool one step behind the reading of `source`, so the
 * event loop reads and encodes the next blocks meanwhile and concurrent transfers use every
 * core.
 */
export async function * compressStream (source: AsyncIterable<Uint8Array>, level: number): AsyncIterable<Uint8Array> {
  const z = poolZstd()
  const stream = z.zstdStreamCreate(level >= 6 ? { level, windowLog: 26, longDistance: true } : { level })
  let step: Promise<Uint8Array> | undefined
  try {
    let pieces: Uint8Array[] = []
    let size = 0
    for await (const piece of source) {
      pieces.push(piece)
      size += piece.length
      if (size < STEP_BYTES) continue
      const input = Buffer.concat(pieces, size)
      pieces = []; size = 0
      if (step !== undefined) { const out = await step; if (out.length > 0) yield out }
      step = z.zstdStreamCompress(stream, input, false)
      step.catch(() => {}) // awaited above or below
    }
    if (step !== undefined) { const out = await step; if (out.length > 0) yield out }
    step = z.zstdStreamCompress(stream, Buffer.concat(pieces, size), true)
    yield await step
  } finally {
    z.zstdStreamFree(stream) // a step still running keeps it until it is collected
  }
}

/**
 * Decompresses a zstd byte stream. Malformed input throws (code ZSTD_ERROR), and so does a
 * stream that ends inside a frame; errors of `source` come through unchanged. Each step runs
 * on libuv's thread pool while the consumer handles the previous step's output.
 */
export async function * decompressStream (source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const z = poolZstd()
  const stream = z.zstdDStreamCreate()
  const pieces = source[Symbol.asyncIterator]()
  const empty = new Uint8Array(0)
  try {
    let input: Uint8Array = empty // one step with no input first: a no-op that starts the loop
    let ended = true
    let step = z.zstdDStreamDecompress(stream, input, MAX_STEP_OUTPUT)
    for (;;) {
      const r = await step
      // A step that did nothing says nothing about frames (at a frame's start zstd asks for its header).
      if (r.used > 0 || r.out.length > 0) ended = r.ended
      let next: Uint8Array | undefined
      if (r.used < input.length) next = input.subarray(r.used) // stopped at the output bound
      else if (r.out.length >= MAX_STEP_OUTPUT) next = empty // output may still be held back
      else {
        const n = await pieces.next()
        next = n.done === true ? undefined : n.value
      }
      if (next === undefined) {
        if (r.out.length > 0) yield r.out
        if (!ended) throw Object.assign(new Error('zstd stream ends inside a frame (truncated)'), { code: 'ZSTD_ERROR' })
        return
      }
      input = next
      step = z.zstdDStreamDecompress(stream, input, MAX_STEP_OUTPUT)
      step.catch(() => {}) // awaited at the top of the loop
      if (r.out.length > 0) yield r.out
    }
  } finally {
    await pieces.return?.()
    z.zstdStreamFree(stream)
  }
}
