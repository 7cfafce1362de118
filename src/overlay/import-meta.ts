import type { BigIntStats } from 'node:fs'
import { ImportError } from './errors.js'
import type { Entry, EntryKind } from './interface.js'
import { devMajor, devMinor, SCAN, SCAN_FIELDS, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from './posix.js'

/** A mutable Entry while an import fills it in. */
export type EntryDraft = { -readonly [K in keyof Entry]: Entry[K] }

const KIND_OF_TYPE = new Map<number, EntryKind>([
  [S_IFREG, 'file'], [S_IFDIR, 'dir'], [S_IFLNK, 'symlink'], [S_IFCHR, 'chardev'],
  [S_IFBLK, 'blockdev'], [S_IFIFO, 'fifo'], [S_IFSOCK, 'socket']
])

/** The entry kind of a full st_mode, or undefined for a type a tree cannot hold. */
export function kindOfMode (mode: number): EntryKind | undefined {
  return KIND_OF_TYPE.get(mode & S_IFMT)
}

/**
 * The metadata of an Entry from an lstat (bigint, for nanosecond mtimes): kind, mode bits
 * (0o7777), owner, mtime, device numbers. Size, content, target and xattrs are the caller's.
 * Rejects ImportError for file types a tree cannot hold.
 */
export function draftFromStat (name: string, st: BigIntStats, path: string): EntryDraft {
  const mode = Number(st.mode)
  const kind = kindOfMode(mode)
  if (kind === undefined) throw new ImportError(`unsupported file type 0o${(mode & S_IFMT).toString(8)}: ${path}`)
  const e: EntryDraft = { name, kind, mode: mode & 0o7777, uid: Number(st.uid), gid: Number(st.gid), mtimeNs: st.mtimeNs, size: 0 }
  if (kind === 'chardev' || kind === 'blockdev') { e.devMajor = devMajor(st.rdev); e.devMinor = devMinor(st.rdev) }
  return e
}

/** Plain Uint8Array copies of xattr values (Buffers from the addon), or undefined when none. */
export function plainXattrs (x: Record<string, Uint8Array> | null | undefined): Record<string, Uint8Array> | undefined {
  if (x === null || x === undefined) return undefined
  const out: Record<string, Uint8Array> = {}
  let any = false
  for (const [k, v] of Object.entries(x)) { out[k] = new Uint8Array(v.buffer, v.byteOffset, v.byteLength); any = true }
  return any ? out : undefined
}

/**
 * The Entry metadata of name `i` of a scandir result (see posix.ts), like draftFromStat.
 * Rejects ImportError for file types a tree cannot hold.
 */
export function draftFromScan (name: string, stats: Float64Array, i: number, path: string): EntryDraft {
  const b = i * SCAN_FIELDS
  const mode = stats[b + SCAN.MODE]
  const kind = kindOfMode(mode)
  if (kind === undefined) throw new ImportError(`unsupported file type 0o${(mode & S_IFMT).toString(8)}: ${path}`)
  const e: EntryDraft = {
    name, kind, mode: mode & 0o7777, uid: stats[b + SCAN.UID], gid: stats[b + SCAN.GID], size: 0,
    mtimeNs: BigInt(stats[b + SCAN.MTIME_SEC]) * 1_000_000_000n + BigInt(stats[b + SCAN.MTIME_NSEC])
  }
  if (kind === 'chardev' || kind === 'blockdev') { e.devMajor = stats[b + SCAN.RDEV_MAJOR]; e.devMinor = stats[b + SCAN.RDEV_MINOR] }
  return e
}
