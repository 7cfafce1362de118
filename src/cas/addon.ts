import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Bytes held by glibc's malloc: taken by arenas, allocated, free inside them, mapped on their own. */
export interface MallocInfo { heap: number, inUse: number, free: number, mmapped: number }

/** The parts of the native addon (native/*.c, built by scripts/build-native.mjs) that the store and transfers use. */
export interface StoreAddon {
  /** BLAKE3-256 digest of `bytes` (32 bytes; native/blake3.c via native/ingest.c). */
  readonly blake3?: (bytes: Uint8Array) => Uint8Array
  /** sync_file_range(SYNC_FILE_RANGE_WRITE) of `length` bytes at `offset` of `fd` (native/posix.c). */
  readonly syncRange?: (fd: number, offset: number, length: number) => void
  /** mallopt(M_ARENA_MAX, n): at most `n` glibc malloc arenas from now on (native/posix.c); false when refused. */
  readonly mallocArenaMax?: (n: number) => boolean
  /** What glibc's allocator holds over all its arenas (mallinfo2), undefined where glibc is not the allocator. */
  readonly mallocInfo?: () => MallocInfo | undefined
  /** malloc_trim(0): returns the free pages of every arena to the kernel; true when some were released. */
  readonly mallocTrim?: () => boolean
  /** CPU time of the calling thread so far, ms (CLOCK_THREAD_CPUTIME_ID); undefined without that clock. */
  readonly threadCpuMs?: () => number | undefined
  /** zstd of `bytes` at `level` on libuv's thread pool (native/zstd-async.c); `bytes` must not change until it settles. */
  readonly zstdCompressAsync?: (bytes: Uint8Array, level: number) => Promise<Uint8Array>
  /** A zstd frame of `bytes` with `reference` as raw-content history (refPrefix), on the thread pool. */
  readonly zstdCompressWithPrefixAsync?: (bytes: Uint8Array, reference: Uint8Array, level: number, windowLog: number) => Promise<Uint8Array>
  /** The inverse of zstdCompressWithPrefixAsync, at most `maxOut` bytes (rejects ZSTD_ERROR). */
  readonly zstdDecompressWithPrefixAsync?: (bytes: Uint8Array, reference: Uint8Array, maxOut: number) => Promise<Uint8Array>
  /** zstd streams whose steps run on libuv's thread pool (native/zstd-async.c): one step at a time per stream. */
  readonly zstdStreamCreate?: (params: { level: number, windowLog?: number, longDistance?: boolean }) => ZstdStream
  /** Compresses `bytes` (unchanged until it settles) into the stream; resolves the output ready, all of it when `end`. */
  readonly zstdStreamCompress?: (stream: ZstdStream, bytes: Uint8Array, end: boolean) => Promise<Uint8Array>
  readonly zstdDStreamCreate?: () => ZstdStream
  /**
   * Decompresses `bytes` until they are used or about `maxOut` bytes are out: `used` input
   * bytes were taken (give the rest again), `ended` when the last step completed a frame.
   * Rejects code ZSTD_ERROR on malformed input.
   */
  readonly zstdDStreamDecompress?: (stream: ZstdStream, bytes: Uint8Array, maxOut: number) => Promise<{ out: Uint8Array, used: number, ended: boolean }>
  /** Frees a stream's context now (else when the handle is collected). */
  readonly zstdStreamFree?: (stream: ZstdStream) => void
}

/** A native zstd stream handle. */
export interface ZstdStream { readonly __zstdStream: never }

const ADDON_PATH = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'build', 'Release', 'xeno_posix.node')
let addon: StoreAddon | null | undefined

/** The addon, loaded on first use; null when it is not built (the store then does without). */
export function storeAddon (): StoreAddon | null {
  if (addon === undefined) {
    try { addon = createRequire(import.meta.url)(ADDON_PATH) as StoreAddon } catch { addon = null }
  }
  return addon
}
