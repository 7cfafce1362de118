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
