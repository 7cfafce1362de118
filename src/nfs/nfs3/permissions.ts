import type { Attrs, Caller, SetAttrs } from '../backend.js'
import { NfsStatusError } from '../errors.js'
import { permissionBits } from './access.js'
import { nfsstat3 } from './consts.js'

/**
 * Server-side permission checks with AUTH_SYS identities (after root squash), as knfsd makes
 * them: POSIX owner/group/other classes, root passes, and the owner may always read and write
 * its own file (a client may have opened it before a chmod). NFS3ERR_ACCES when denied,
 * NFS3ERR_PERM for what only the owner or root may do.
 */

const R = 4
const W = 2
const X = 1

function deny (status: typeof nfsstat3.NFS3ERR_ACCES | typeof nfsstat3.NFS3ERR_PERM = nfsstat3.NFS3ERR_ACCES): never {
  throw new NfsStatusError(status)
}

/** READ: read or execute permission (page-in of executables), or ownership. */
export function checkRead (a: Attrs, c: Caller): void {
  if (c.uid === 0 || c.uid === a.uid) return
  if ((permissionBits(a, c) & (R | X)) === 0) deny()
}

/** WRITE and truncation: write permission or ownership. */
export function checkWrite (a: Attrs, c: Caller): void {
  if (c.uid === 0 || c.uid === a.uid) return
  if ((permissionBits(a, c) & W) === 0) deny()
}

/** LOOKUP in a directory: search permission. */
export function checkSearch (dir: Attrs, c: Caller): void {
  if (c.uid === 0) return
  if ((permissionBits(dir, c) & X) === 0) deny()
}

/** READDIR: read permission on the directory. */
export function checkList (dir: Attrs, c: Caller): void {
  if (c.uid === 0) return
  if ((permissionBits(dir, c) & R) === 0) deny()
}

/** Adding or removing a name: write and search permission on the directory. */
export function checkModifyDir (dir: Attrs, c: Caller): void {
  if (c.uid === 0) return
  if ((permissionBits(dir, c) & (W | X)) !== (W | X)) deny()
}

/** Removing or renaming `child` out of a sticky directory: owner of either, or root. */
export function checkSticky (dir: Attrs, child: Attrs, c: Caller): void {
  if ((dir.mode & 0o1000) === 0 || c.uid === 0 || c.uid === dir.uid || c.uid === child.uid) return
  deny()
}

/** SETATTR: chown is root's; chgrp the owner's to its own groups; chmod and times the owner's. */
export function checkSetattr (a: Attrs, set: SetAttrs, c: Caller): void {
  if (c.uid === 0) return
  const owner = c.uid === a.uid
  if (set.uid !== undefined && set.uid !== a.uid) deny(nfsstat3.NFS3ERR_PERM)
  if (set.gid !== undefined && set.gid !== a.gid && !(owner && (c.gid === set.gid || c.gids.includes(set.gid)))) deny(nfsstat3.NFS3ERR_PERM)
  if (set.mode !== undefined && !owner) deny(nfsstat3.NFS3ERR_PERM)
  if (set.size !== undefined) checkWrite(a, c)
  const times = [set.atimeNs, set.mtimeNs].filter((t) => t !== undefined)
  if (times.some((t) => t !== 'now') && !owner) deny(nfsstat3.NFS3ERR_PERM)
  if (times.length > 0 && !owner) checkWrite(a, c)
}

/** MKNOD of a device: root only. */
export function checkMknod (type: string, c: Caller): void {
  if ((type === 'chardev' || type === 'blockdev') && c.uid !== 0) deny(nfsstat3.NFS3ERR_PERM)
}
