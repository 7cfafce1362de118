import type { Entry } from './interface.js'
import { lowerInoKey, type InodeRef } from './inodes.js'
import type { Kv } from './kv.js'
import { isUpperEntry } from './upper-node.js'
import type { Attrs } from './view.js'

/**
 * The inode-table key of a visible object the view's own writable layer does not hold: its
 * path (or hard-link leader) for lower layers; for an object of a `.mount` writable layer,
 * its node there (so renames inside that layer keep the ino), with a reference to where that
 * layer records its path. `seen` learns the foreign layers met.
 */
export function inoKeyOf (e: Entry, path: string, seen: (id: string, kv: Kv) => void): { key: string, path: string, ref?: InodeRef } {
  const foreign = isUpperEntry(e) ? (e.upper.owner as Kv | undefined) : undefined
  if (foreign?.id === undefined || !isUpperEntry(e)) return { key: lowerInoKey(path, e.hardlink), path }
  seen(foreign.id, foreign)
  const at = path.slice(0, path.length - (e.upper.path === '/' ? 0 : e.upper.path.length)) || '/'
  return { key: `x:${foreign.id}\0${e.upper.ino}`, path, ref: { m: foreign.id, n: e.upper.ino, at, p: path } }
}

/**
 * View attributes of a visible entry with inode number `ino`. nlink: the writable layer's
 * count for its own files; 2 for members of a lower hard-link group (the group's size is not
 * recorded), 1 otherwise and for directories (the "unknown" value tools accept).
 */
export function attrsOf (e: Entry, ino: number): Attrs {
  if (e.kind === 'whiteout') throw new TypeError('a whiteout has no attributes')
  const node = isUpperEntry(e) ? e.upper.node : undefined
  return {
    ino: BigInt(ino), kind: e.kind, mode: e.mode, uid: e.uid, gid: e.gid, size: e.size,
    nlink: node !== undefined ? (e.kind === 'dir' ? 1 : node.nl) : (e.hardlink !== undefined ? 2 : 1),
    mtimeNs: e.mtimeNs, ctimeNs: node?.c ?? e.mtimeNs,
    ...(e.target !== undefined ? { target: e.target } : {}),
    ...(e.devMajor !== undefined ? { devMajor: e.devMajor, devMinor: e.devMinor ?? 0 } : {}),
    ...(e.xattrs !== undefined ? { xattrs: e.xattrs } : {})
  }
}
