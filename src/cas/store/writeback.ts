import { storeAddon } from '../addon.js'

/**
 * Starts the kernel's writeback of `length` bytes at `offset` of the open file `fd`, without
 * waiting (sync_file_range, SYNC_FILE_RANGE_WRITE), so that the fsync ending a durable commit
 * finds little left to write (an import's final flush waited ~65 ms for 92 MB otherwise).
 * Best effort and no durability promise: without the addon it does nothing.
 */
export function startWriteback (fd: number, offset: number, length: number): void {
  storeAddon()?.syncRange?.(fd, offset, length)
}
