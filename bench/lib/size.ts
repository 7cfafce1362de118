import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/** Size of a directory tree on disk. */
export interface TreeSize {
  /** Sum of the sizes of the regular files (what `find -type f -printf %s` adds up). */
  readonly bytes: number
  /** Allocated bytes (st_blocks × 512, what `du -sB1` reports; hard links counted once). */
  readonly diskBytes: number
  /** Regular files (hard links counted once). */
  readonly files: number
  /** Every entry below the root, of any kind, the root excluded. */
  readonly entries: number
}

/**
 * Walks `root` without following symlinks and adds up its regular files. A store's size is
 * its `bytes`: the sum of file sizes, as the issues define "store bytes". A hard-linked file
 * is counted once (by device and inode).
 */
export async function treeSize (root: string): Promise<TreeSize> {
  const seen = new Set<string>()
  let bytes = 0
  let diskBytes = 0
  let files = 0
  let entries = 0
  const pending = [root]
  while (pending.length > 0) {
    const dir = pending.pop() as string
    const names = await readdir(dir)
    for (const name of names) {
      const path = join(dir, name)
      const st = await lstat(path, { bigint: true })
      entries++
      if (st.isDirectory()) {
        pending.push(path)
        diskBytes += Number(st.blocks) * 512
        continue
      }
      if (st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`
        if (seen.has(key)) continue
        seen.add(key)
      }
      diskBytes += Number(st.blocks) * 512
      if (st.isFile()) {
        bytes += Number(st.size)
        files++
      }
    }
  }
  return { bytes, diskBytes, files, entries }
}

/** Sum of file sizes of several paths (files or trees), e.g. a store directory plus an index file. */
export async function pathsBytes (paths: readonly string[]): Promise<number> {
  let total = 0
  for (const p of paths) {
    const st = await lstat(p)
    total += st.isDirectory() ? (await treeSize(p)).bytes : st.isFile() ? st.size : 0
  }
  return total
}
