import { chmodSync, lchownSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { posix, S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK } from '../../src/overlay/posix.js'
import { seededBytes } from './bytes.js'

/** A POSIX ACL as the kernel stores it in system.posix_acl_*: version 2, then (tag, perm, id) entries. */
export function aclXattr (entries: Array<[tag: number, perm: number, id?: number]>): Uint8Array {
  const b = Buffer.alloc(4 + 8 * entries.length)
  b.writeUInt32LE(2, 0)
  entries.forEach(([tag, perm, id], i) => { b.writeUInt16LE(tag, 4 + i * 8); b.writeUInt16LE(perm, 6 + i * 8); b.writeUInt32LE(id ?? 0xffffffff, 8 + i * 8) })
  return new Uint8Array(b)
}
const ACL_USER_OBJ = 0x01
const ACL_USER = 0x02
const ACL_GROUP_OBJ = 0x04
const ACL_MASK = 0x10
const ACL_OTHER = 0x20

/** security.capability v2 blob for cap_net_raw+ep (what `setcap cap_net_raw+ep` writes). */
export const CAP_NET_RAW_EP = new Uint8Array([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])

export interface FullTreeOptions {
  /** Entries in the big directory (default 1500: above MAX_DIR_ENTRIES, so it is sharded). */
  readonly bigDirEntries?: number
  /** Seed of file contents. */
  readonly seed?: number
  /** Include a socket (default true; tar cannot hold sockets). */
  readonly socket?: boolean
}

/**
 * Builds, under the existing empty directory `root`, a tree holding every kind of entry and
 * metadata a tree can carry: empty, small, multi-chunk and compressible files; a directory
 * above MAX_DIR_ENTRIES; symlinks (relative, absolute, dangling); a hard-link group across
 * directories; char and block devices, a fifo, a socket; setuid, setgid, sticky and 000
 * modes; foreign uid/gid; nanosecond and pre-1970 mtimes; user.* and security.capability
 * xattrs; POSIX ACLs (access and default); names that sort differently in UTF-16 and UTF-8. Needs root (devices, chown).
 * Directory mtimes are set last, so the tree is stable once this resolves.
 */
export function makeFullTree (root: string, options: FullTreeOptions = {}): void {
  const P = posix()
  const seed = options.seed ?? 7
  const p = (...names: string[]): string => join(root, ...names)
  for (const d of ['etc', 'bin', 'var', 'var/tmp', 'big', 'links', 'links/deeper', 'dev', 'names']) mkdirSync(p(d), { recursive: true })
  writeFileSync(p('etc', 'empty'), '')
  writeFileSync(p('etc', 'small.conf'), 'key = value\n')
  writeFileSync(p('bin', 'multi-chunk.bin'), seededBytes(seed, 1_300_000))
  writeFileSync(p('bin', 'zeros'), new Uint8Array(700_000))
  writeFileSync(p('bin', 'suid'), '#!/bin/sh\n')
  writeFileSync(p('bin', 'ping'), seededBytes(seed + 1, 5000))
  const n = options.bigDirEntries ?? 1500
  for (let i = 0; i < n; i++) writeFileSync(p('big', `f${String(i).padStart(5, '0')}`), i % 3 === 0 ? '' : `entry ${i}\n`)
  symlinkSync('../etc/small.conf', p('links', 'relative'))
  symlinkSync('/etc/passwd', p('links', 'absolute'))
  symlinkSync('does/not/exist', p('links', 'dangling'))
  writeFileSync(p('links', 'h1'), 'hard-linked content\n')
  linkSync(p('links', 'h1'), p('links', 'deeper', 'h2'))
  linkSync(p('links', 'h1'), p('etc', 'h0'))
  P.mknod(p('dev', 'null'), S_IFCHR | 0o666, 1, 3)
  P.mknod(p('dev', 'sda1'), S_IFBLK | 0o660, 8, 1)
  P.mknod(p('dev', 'big-numbers'), S_IFCHR | 0o600, 4095, 1048575)
  P.mknod(p('dev', 'fifo'), S_IFIFO | 0o644, 0, 0)
  if (options.socket !== false) P.mknod(p('dev', 'socket'), S_IFSOCK | 0o755, 0, 0)
  for (const name of ['plain', 'ünïcödé', '\u{1F600}emoji', '\uFF41fullwidth', 'Zcase', 'a b']) writeFileSync(p('names', name), name)
  // Longer than ustar's 100-byte name and link fields: PAX path/linkpath in tars.
  const long = 'long-' + 'ü'.repeat(60)
  mkdirSync(p('names', long))
  writeFileSync(p('names', long, 'x'.repeat(120)), 'deep\n')
  symlinkSync(`${long}/${'x'.repeat(120)}`, p('names', 'long-link'))
  writeFileSync(p('names', 'big-ids'), '')
  lchownSync(p('names', 'big-ids'), 3_000_000, 4_000_000)
  lchownSync(p('etc', 'small.conf'), 1234, 5678)
  lchownSync(p('links', 'absolute'), 42, 43)
  lchownSync(p('var', 'tmp'), 0, 0)
  chmodSync(p('bin', 'suid'), 0o4755)
  chmodSync(p('bin', 'ping'), 0o2711)
  chmodSync(p('var', 'tmp'), 0o1777)
  chmodSync(p('etc', 'empty'), 0o000)
  P.lsetxattr(p('etc', 'small.conf'), 'user.comment', new TextEncoder().encode('hello'))
  P.lsetxattr(p('etc'), 'user.dir-attr', new Uint8Array([0, 1, 2, 255]))
  P.lsetxattr(p('bin', 'ping'), 'security.capability', CAP_NET_RAW_EP)
  P.lsetxattr(p('bin', 'multi-chunk.bin'), 'user.empty', new Uint8Array(0))
  // POSIX ACLs are xattrs too (rsync -A checks them): an access ACL and a directory default ACL.
  writeFileSync(p('etc', 'acl-file'), 'acl\n')
  P.lsetxattr(p('etc', 'acl-file'), 'system.posix_acl_access',
    aclXattr([[ACL_USER_OBJ, 6], [ACL_USER, 4, 1000], [ACL_GROUP_OBJ, 4], [ACL_MASK, 4], [ACL_OTHER, 4]]))
  P.lsetxattr(p('var'), 'system.posix_acl_default', aclXattr([[ACL_USER_OBJ, 7], [ACL_GROUP_OBJ, 5], [ACL_OTHER, 0]]))
  // mtimes last, deepest first, so no later change touches them.
  const t = 1_700_000_000_123_456_789n
  P.utimens(p('etc', 'small.conf'), t, t)
  P.utimens(p('bin', 'zeros'), -123_456_789n, -123_456_789n)
  P.utimens(p('links', 'relative'), t + 1n, t + 1n)
  P.utimens(p('dev', 'fifo'), t + 2n, t + 2n)
  for (const d of ['links/deeper', 'links', 'var/tmp', 'var', 'etc', 'bin', 'big', 'dev', `names/${long}`, 'names']) P.utimens(p(d), t + 5n, t + 5n)
  P.utimens(root, t + 999n, t + 999n)
}
