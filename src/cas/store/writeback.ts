import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The addon's syncRange (native/posix.c), if the addon is built. */
type SyncRange = (fd: number, offset: number, length: number) => void

const ADDON_PATH = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', '..', 'build', 'Release', 'xeno_posix.node')
let syncRange: SyncRange | null | undefined

/**
 * Starts the kernel's writeback of `length` bytes at `offset` of the open file `fd`, without
 * waiting (sync_file_range, SYNC_FILE_RANGE_WRITE), so that the fsync ending a durable commit
 * finds little left to write (an import's final flush waited ~65 ms for 92 MB otherwise).
 * Best effort and no durability promise: without the addon it does nothing.
 */
export function startWriteback (fd: number, offset: number, length: number): void {
  if (syncRange === undefined) {
    try { syncRange = (createRequire(import.meta.url)(ADDON_PATH) as { syncRange: SyncRange }).syncRange ?? null } catch { syncRange = null }
  }
  syncRange?.(fd, offset, length)
}
