import type { Attrs, FileType, SetAttrs } from '../backend.js'
import { XdrError } from '../errors.js'
import type { XdrReader, XdrWriter } from '../xdr.js'
import { ftype3, NFS3_FHSIZE, time_how, type FType3 } from './consts.js'

/** Encoders and decoders of the attribute structures of RFC 1813 §2.6 (fattr3, wcc_data, sattr3). */

const NS_PER_SEC = 1_000_000_000n
const FTYPE: Record<FileType, FType3> = {
  file: ftype3.NF3REG,
  dir: ftype3.NF3DIR,
  blockdev: ftype3.NF3BLK,
  chardev: ftype3.NF3CHR,
  symlink: ftype3.NF3LNK,
  socket: ftype3.NF3SOCK,
  fifo: ftype3.NF3FIFO
}

// fattr3 repeats one time three times (atime = ctime = mtime for most nodes): the last split
// is kept, since BigInt division costs more than the rest of the encoding.
let lastNs = -1n
let lastSec = 0
let lastNsec = 0

/** nfstime3: seconds and nanoseconds, both uint32 (times before 1970 clamp to 0). */
export function writeTime (out: XdrWriter, ns: bigint): void {
  if (ns < 0n) ns = 0n
  if (ns !== lastNs) {
    const sec = ns / NS_PER_SEC
    lastSec = Number(sec & 0xffff_ffffn)
    lastNsec = Number(ns - sec * NS_PER_SEC)
    lastNs = ns
  }
  out.uint32(lastSec).uint32(lastNsec)
}

export function readTime (r: XdrReader): bigint {
  const sec = BigInt(r.uint32())
  const nsec = r.uint32()
  if (nsec >= 1_000_000_000) throw new XdrError(`nseconds ${nsec} out of range`)
  return sec * NS_PER_SEC + BigInt(nsec)
}

/** fattr3 (RFC 1813 §2.6): 84 bytes. `fsid` identifies the export. */
export function writeFattr3 (out: XdrWriter, a: Attrs, fsid: bigint): void {
  out.uint32(FTYPE[a.type]).uint32(a.mode & 0o7777).uint32(a.nlink).uint32(a.uid).uint32(a.gid)
    .uint64(a.size).uint64(a.used).uint32(a.rdev.major).uint32(a.rdev.minor)
    .uint64(fsid).uint64(a.fileid)
  writeTime(out, a.atimeNs)
  writeTime(out, a.mtimeNs)
  writeTime(out, a.ctimeNs)
}

/** post_op_attr: attributes_follow + fattr3. */
export function writePostOpAttr (out: XdrWriter, a: Attrs | undefined, fsid: bigint): void {
  out.bool(a !== undefined)
  if (a !== undefined) writeFattr3(out, a, fsid)
}

/** pre_op_attr: attributes_follow + wcc_attr (size, mtime, ctime). */
export function writePreOpAttr (out: XdrWriter, a: Attrs | undefined): void {
  out.bool(a !== undefined)
  if (a === undefined) return
  out.uint64(a.size)
  writeTime(out, a.mtimeNs)
  writeTime(out, a.ctimeNs)
}

/** wcc_data (RFC 1813 §2.6): attributes before and after an operation. */
export function writeWcc (out: XdrWriter, before: Attrs | undefined, after: Attrs | undefined, fsid: bigint): void {
  writePreOpAttr(out, before)
  writePostOpAttr(out, after, fsid)
}

/** post_op_fh3: handle_follows + nfs_fh3. */
export function writePostOpFh (out: XdrWriter, fh: Uint8Array | undefined): void {
  out.bool(fh !== undefined)
  if (fh !== undefined) out.opaque(fh)
}

/** nfs_fh3: opaque<NFS3_FHSIZE>. */
export function readFh (r: XdrReader): Uint8Array { return r.opaque(NFS3_FHSIZE) }

/** sattr3 (RFC 1813 §2.6). */
export function readSattr3 (r: XdrReader): SetAttrs {
  const s: SetAttrs = {}
  if (r.bool()) s.mode = r.uint32() & 0o7777
  if (r.bool()) s.uid = r.uint32()
  if (r.bool()) s.gid = r.uint32()
  if (r.bool()) s.size = r.uint64()
  const at = readTimeHow(r)
  if (at !== undefined) s.atimeNs = at
  const mt = readTimeHow(r)
  if (mt !== undefined) s.mtimeNs = mt
  return s
}

function readTimeHow (r: XdrReader): bigint | 'now' | undefined {
  const how = r.uint32()
  switch (how) {
    case time_how.DONT_CHANGE: return undefined
    case time_how.SET_TO_SERVER_TIME: return 'now'
    case time_how.SET_TO_CLIENT_TIME: return readTime(r)
    default: throw new XdrError(`time_how ${how}`)
  }
}

/** ftype3 number → FileType, or undefined for an unknown value. */
export function fileTypeOf (t: number): FileType | undefined {
  for (const [k, v] of Object.entries(FTYPE)) if (v === t) return k as FileType
  return undefined
}
