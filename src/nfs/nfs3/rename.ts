import type { Attrs } from '../backend.js'
import { NfsStatusError } from '../errors.js'
import type { Procedure } from '../server.js'
import { checkModifyDir, checkSticky } from './permissions.js'
import { readFh, writeWcc } from './attrs.js'
import { checkName, readName, respond, tryGetattr, type Nfs3State, type Target } from './context.js'
import { nfsstat3 } from './consts.js'

/** RENAME3, RFC 1813 §3.3.14: both directories' wcc_data either way; across exports is XDEV. */
export function rename (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fromFh = readFh(args)
    const fromName = readName(args)
    const toFh = readFh(args)
    const toName = readName(args)
    let from: Target | undefined
    let to: Target | undefined
    let fromBefore: Attrs | undefined
    let toBefore: Attrs | undefined
    const wcc = async (): Promise<(out: import('../xdr.js').XdrWriter) => void> => {
      const [fa, ta] = await Promise.all([tryGetattr(from), tryGetattr(to)])
      return (out) => {
        writeWcc(out, fromBefore, fa, from?.exp.fsid ?? 0n)
        writeWcc(out, toBefore, ta, to?.exp.fsid ?? 0n)
      }
    }
    return await respond(async () => {
      from = s.resolve(fromFh, ctx)
      to = s.resolve(toFh, ctx)
      if (from.exp !== to.exp) throw new NfsStatusError(nfsstat3.NFS3ERR_XDEV)
      checkName(fromName, false)
      checkName(toName, true)
      if (fromName === '.' || fromName === '..') throw new NfsStatusError(nfsstat3.NFS3ERR_INVAL)
      if (from.exp.fs.readOnly) throw new NfsStatusError(nfsstat3.NFS3ERR_ROFS)
      ;[fromBefore, toBefore] = await Promise.all([from.exp.fs.getattr(from.id), from.exp.fs.getattr(to.id)])
      const caller = s.caller(from, ctx)
      checkModifyDir(fromBefore, caller)
      checkModifyDir(toBefore, caller)
      if ((fromBefore.mode & 0o1000) !== 0) checkSticky(fromBefore, await from.exp.fs.getattr(await from.exp.fs.lookup(from.id, fromName)), caller)
      await from.exp.fs.rename(from.id, fromName, to.id, toName)
      return await wcc()
    }, wcc)
  }
}
