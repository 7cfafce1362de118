import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The parts of the native addon (native/*.c, built by scripts/build-native.mjs) the store uses. */
export interface StoreAddon {
  /** sync_file_range(SYNC_FILE_RANGE_WRITE) of `length` bytes at `offset` of `fd` (native/posix.c). */
  readonly syncRange?: (fd: number, offset: number, length: number) => void
  /** zstd of `bytes` at `level` on libuv's thread pool (native/zstd-async.c); `bytes` must not change until it settles. */
  readonly zstdCompressAsync?: (bytes: Uint8Array, level: number) => Promise<Uint8Array>
}

const ADDON_PATH = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'build', 'Release', 'xeno_posix.node')
let addon: StoreAddon | null | undefined

/** The addon, loaded on first use; null when it is not built (the store then does without). */
export function storeAddon (): StoreAddon | null {
  if (addon === undefined) {
    try { addon = createRequire(import.meta.url)(ADDON_PATH) as StoreAddon } catch { addon = null }
  }
  return addon
}
