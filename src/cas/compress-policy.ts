/**
 * When a stored block or frame is kept zstd-compressed: one policy for every writer (prepare.ts
 * in the main thread, the ingest workers, which write zstd straight into their output buffers).
 * Plain constants and arithmetic, so a worker can use it without loading zstd or multiformats.
 */

/** Payloads smaller than this are stored as they are: zstd cannot win enough to pay its frame. */
export const MIN_COMPRESS_BYTES = 64
/** Keep the compressed form only when it saves at least this many bytes. */
export const MIN_SAVING_BYTES = 16

/** Whether `rawLength` bytes are worth trying to compress at `level` (0: never). */
export function worthCompressing (level: number, rawLength: number): boolean {
  return level > 0 && rawLength >= MIN_COMPRESS_BYTES
}

/** Whether a compressed form of `packedLength` bytes is kept over `rawLength` raw bytes. */
export function keepsCompressed (packedLength: number, rawLength: number): boolean {
  return packedLength + MIN_SAVING_BYTES <= rawLength
}

/**
 * zstd level of stored chunks. Level 2 measured on the Debian minbase tree (7,116 unique chunks,
 * 195.5 MB): 96.5 MB at 248 MB/s of CPU, against 97.9 MB at 241 MB/s for level 1 and 95.6 MB at
 * 180 MB/s for level 3 (scratch measurement, each chunk compressed alone). The importer
 * compresses frames of consecutive chunks (STORE_FRAME_RAW_BYTES) at this level: on
 * frames of 256 KiB, level 1 took 21% less zstd CPU for a 2.3% larger store (t1: 94.5 MB
 * against 92.5 MB), level 3 30% more CPU for 0.5% less, and tuned level-2 parameters (hashLog,
 * chainLog, minMatch) only moved along the same curve.
 */
export const STORE_ZSTD_LEVEL = 2

/**
 * Largest raw size of a frame the importer and GC build (several consecutive new chunks
 * compressed together, store/pack-format.ts). Measured on the Debian minbase tree t1
 * (fixed 64 KiB pieces, no dedup, zstd level 2): per chunk 100.1 MB; frames of 128 KiB
 * 95.9 MB, 256 KiB 94.0 MB, 1 MiB 90.7 MB; at the same CPU (fewer frame set-ups). Session 4,
 * t1's 7,116 unique chunks in walk order, callgrind instructions of zstd alone: 256 KiB at
 * level 2 (zstd picks double-fast up to 256 KiB) 5.29 G, 91.06 MB; 384 KiB (level 2 is then
 * the fast strategy, ingest-core.c pins its parameters) 4.03 G, 90.95 MB; 512 KiB 4.00 G,
 * 90.31 MB; 1 MiB 3.93 G, 88.50 MB. Session 8: 1 MiB, because ingest-core.c's cheaper level 2
 * (16 Ki hash slots, 6-byte matches: 13% less zstd CPU in a t1 import) makes the store 1.2 MB
 * larger at a given frame size and 1 MiB frames buy that back. t1 imported with those
 * parameters (the workers' frames vary with which files each thread takes): 768 KiB
 * 92.35-92.64 MB (6 runs), 896 KiB 92.14-92.51 MB (4), 1 MiB 91.98-92.44 MB (34); session 5's
 * parameters and 384 KiB 92.12-92.54 MB (32); ostree's store is 93.6 MB. The cost: a member
 * read decompresses its whole frame (store/read.ts), so a random read of one chunk through the
 * store (2,000 reads of t1's chunks, warm page cache, 6 runs) takes 1.36-1.63 ms of CPU instead
 * of 0.71-0.87 ms (768 KiB: 1.08-1.39 ms); reading neighbouring members (frame-cache.ts)
 * decompresses each frame once, as before (`xeno cat` of t1's 50 MB file 0.52-0.59 s either way).
 */
export const STORE_FRAME_RAW_BYTES = 1024 * 1024
