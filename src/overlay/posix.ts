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
  /** mknod(2); `mode` includes the S_IF* type bits (char, block, fifo, socket). */
  mknod (path: string, mode: number, major: number, minor: number): void
  /** Every extended attribute of `path` itself (llistxattr + lgetxattr), or null if none. */
  lxattrs (path: string): Record<string, Uint8Array> | null
  /** lsetxattr(2). */
  lsetxattr (path: string, name: string, value: Uint8Array): void
}

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
