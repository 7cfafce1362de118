import type { Attrs, DirEntryOut } from '../backend.js'
import type { Target } from './context.js'

/**
 * '.' and '..' at the head of every listing, as the Linux and ganesha servers send them: the
 * NFSv3 client makes up neither (RFC 1813 §3.3.16 leaves them to the server), so without them
 * `ls -a` over NFS shows neither and a program that skips the first two entries loses real ones.
 * Backends list without them; these two cookies, far above any inode number a backend uses as a
 * cookie and below 2^63 (clients keep directory positions as signed 64-bit offsets), say "after
 * '.'" and "after '..'", and both resume the backend's listing from its start.
 */
export const DOT_COOKIE = 0x7fff_ffff_ffff_fff0n
export const DOTDOT_COOKIE = 0x7fff_ffff_ffff_fff1n

/** The dot entries still due at `cookie`, and the cookie to list the backend from. */
export async function dotEntries (t: Target, cookie: bigint, dirAttrs: Attrs): Promise<{ dots: DirEntryOut[], from: bigint }> {
  if (cookie !== 0n && cookie !== DOT_COOKIE) return { dots: [], from: cookie === DOTDOT_COOKIE ? 0n : cookie }
  const fs = t.exp.fs
  // The export's root is its own parent (nothing above it is exported).
  const parent = t.id === fs.root ? t.id : await fs.lookup(t.id, '..')
  const parentAttrs = parent === t.id ? dirAttrs : await fs.getattr(parent)
  const dotdot: DirEntryOut = { name: '..', id: parent, cookie: DOTDOT_COOKIE, attrs: parentAttrs }
  if (cookie === DOT_COOKIE) return { dots: [dotdot], from: 0n }
  return { dots: [{ name: '.', id: t.id, cookie: DOT_COOKIE, attrs: dirAttrs }, dotdot], from: 0n }
}
