import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

/**
 * The POSIX calls Node lacks, from the addon native/posix.c (built by scripts/build-native.mjs
 * into build/Release/xeno_posix.node). All synchronous, one syscall each; errors are Node-style
 * (`code` 'ENOENT' etc., `syscall`, `path`).
 */
export interface Posix {
  /** utimensat(AT_SYMLINK_NOFOLLOW) with nanosecond times. */
  utimens (path: string, atimeNs: bigint, mtimeNs: bigint): void
  /** futimens(2) on an open file, nanosecond times. */
  futimens (fd: number, atimeNs: bigint, mtimeNs: bigint): void
  /** mknod(2); `mode` includes the S_IF* type bits (char, block, fifo, socket). */
  mknod (path: string, mode: number, major: number, minor: number): void
  /** Every extended attribute of `path` itself (llistxattr + lgetxattr), or null if none. */
  lxattrs (path: string): Record<string, Uint8Array> | null
  /** lsetxattr(2). */
  lsetxattr (path: string, name: string, value: Uint8Array): void
  /** Loads the chunker's gear table (src/cas/chunker/cdc.ts GEAR) for cdcCuts. */
  cdcInit (gear: Uint32Array): void
  /**
   * The chunk lengths of `data` by the FastCDC rule of findBoundary (same cuts): as many whole
   * chunks as `data` holds, and the remainder too when `final`.
   */
  cdcCuts (data: Uint8Array, final: boolean, minSize: number, avgSize: number, maxSize: number): Uint32Array
  /**
   * One directory: names sorted by bytes, their lstat fields (SCAN_* offsets, SCAN_FIELDS per
   * name), symlink targets and xattrs. Throws code EILSEQ for a name that is not UTF-8.
   */
  scandir (path: string): ScanResult
}

export interface ScanResult {
  readonly names: string[]
  readonly stats: Float64Array
  readonly targets: Array<string | undefined>
  readonly xattrs: Array<Record<string, Uint8Array> | null>
}

/** Field offsets in ScanResult.stats. */
export const SCAN = {
  MODE: 0, UID: 1, GID: 2, SIZE: 3, NLINK: 4, DEV_HI: 5, DEV_LO: 6, INO_HI: 7, INO_LO: 8,
  RDEV_MAJOR: 9, RDEV_MINOR: 10, MTIME_SEC: 11, MTIME_NSEC: 12
} as const
export const SCAN_FIELDS = 13

export const S_IFMT = 0o170000
export const S_IFSOCK = 0o140000
export const S_IFLNK = 0o120000
export const S_IFREG = 0o100000
export const S_IFBLK = 0o060000
export const S_IFDIR = 0o040000
export const S_IFCHR = 0o020000
export const S_IFIFO = 0o010000

const ADDON_PATH = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'build', 'Release', 'xeno_posix.node')

let loaded: Posix | undefined

/** The addon; throws a clear Error if it was not built (run `npm run build`). */
export function posix (): Posix {
  if (loaded !== undefined) return loaded
  try {
    loaded = createRequire(import.meta.url)(ADDON_PATH) as Posix
  } catch (err) {
    throw new Error(`native addon missing (${ADDON_PATH}); run \`npm run build\``, { cause: err })
  }
  return loaded
}

/** Linux dev_t encoding (glibc gnu_dev_major/minor) of an lstat rdev. */
export function devMajor (rdev: number | bigint): number {
  const d = BigInt(rdev)
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n))
}

export function devMinor (rdev: number | bigint): number {
  const d = BigInt(rdev)
  return Number((d & 0xffn) | ((d >> 12n) & 0xffffff00n))
}
