import type { Attrs, Caller, Filesystem, NodeId } from '../backend.js'
import { NfsStatusError } from '../errors.js'
import type { CallContext, Encoder } from '../server.js'
import { writePostOpAttr, writePostOpFh, writeWcc } from './attrs.js'
import { checkName, respond, tryGetattr, type Nfs3State, type Target } from './context.js'
import { nfsstat3 } from './consts.js'
import { checkModifyDir, checkSticky } from './permissions.js'

/**
 * The shared shape of CREATE, MKDIR, SYMLINK and MKNOD (RFC 1813 §3.3.8-11): resok is
 * post_op_fh3 + post_op_attr of the new node + wcc_data of the directory; resfail is the
 * directory's wcc_data.
 */
export async function createIn (
  s: Nfs3State, dirFh: Uint8Array, name: string, ctx: CallContext,
  make: (fs: Filesystem, dir: NodeId, caller: Caller) => Promise<NodeId>
): Promise<Encoder> {
  let t: Target | undefined
  let before: Attrs | undefined
  return await respond(async () => {
    t = s.resolve(dirFh, ctx)
    checkName(name, true)
    if (t.exp.fs.readOnly) throw new NfsStatusError(nfsstat3.NFS3ERR_ROFS)
    before = await t.exp.fs.getattr(t.id)
    if (before.type !== 'dir') throw new NfsStatusError(nfsstat3.NFS3ERR_NOTDIR)
    const caller = s.caller(t, ctx)
    checkModifyDir(before, caller)
    const id = await make(t.exp.fs, t.id, caller)
    const [obj, after] = await Promise.all([tryGetattr(t, id), tryGetattr(t)])
    const fh = s.handle(t.exp, id)
    const fsid = t.exp.fsid
    const b = before
    return (out) => { writePostOpFh(out, fh); writePostOpAttr(out, obj, fsid); writeWcc(out, b, after, fsid) }
  }, async () => {
    const after = await tryGetattr(t)
    return (out) => { writeWcc(out, before, after, t?.exp.fsid ?? 0n) }
  })
}

/** REMOVE and RMDIR (RFC 1813 §3.3.12-13): wcc_data of the directory either way. */
export async function removeIn (
  s: Nfs3State, dirFh: Uint8Array, name: string, ctx: CallContext,
  drop: (fs: Filesystem, dir: NodeId) => Promise<void>
): Promise<Encoder> {
  let t: Target | undefined
  let before: Attrs | undefined
  const wcc = async (): Promise<Encoder> => {
    const after = await tryGetattr(t)
    return (out) => { writeWcc(out, before, after, t?.exp.fsid ?? 0n) }
  }
  return await respond(async () => {
    t = s.resolve(dirFh, ctx)
    checkName(name, false)
    if (name === '.' || name === '..') throw new NfsStatusError(nfsstat3.NFS3ERR_INVAL)
    if (t.exp.fs.readOnly) throw new NfsStatusError(nfsstat3.NFS3ERR_ROFS)
    before = await t.exp.fs.getattr(t.id)
    const caller = s.caller(t, ctx)
    checkModifyDir(before, caller)
    if ((before.mode & 0o1000) !== 0) checkSticky(before, await t.exp.fs.getattr(await t.exp.fs.lookup(t.id, name)), caller)
    await drop(t.exp.fs, t.id)
    return await wcc()
  }, wcc)
}
