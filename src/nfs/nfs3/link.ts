import type { Attrs } from '../backend.js'
import { NfsStatusError } from '../errors.js'
import type { Procedure } from '../server.js'
import { checkModifyDir } from './permissions.js'
import { readFh, writePostOpAttr, writeWcc } from './attrs.js'
import { checkName, readName, respond, tryGetattr, type Nfs3State, type Target } from './context.js'
import { nfsstat3 } from './consts.js'

/** LINK3, RFC 1813 §3.3.15: a hard link; resok and resfail both carry file attributes and dir wcc. */
export function link (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fileFh = readFh(args)
    const dirFh = readFh(args)
    const name = readName(args)
    let file: Target | undefined
    let dir: Target | undefined
    let before: Attrs | undefined
    const tail = async (): Promise<(out: import('../xdr.js').XdrWriter) => void> => {
      const [fa, da] = await Promise.all([tryGetattr(file), tryGetattr(dir)])
      return (out) => {
        writePostOpAttr(out, fa, file?.exp.fsid ?? 0n)
        writeWcc(out, before, da, dir?.exp.fsid ?? 0n)
      }
    }
    return await respond(async () => {
      file = s.resolve(fileFh, ctx)
      dir = s.resolve(dirFh, ctx)
      if (file.exp !== dir.exp) throw new NfsStatusError(nfsstat3.NFS3ERR_XDEV)
      checkName(name, true)
      if (dir.exp.fs.readOnly) throw new NfsStatusError(nfsstat3.NFS3ERR_ROFS)
      before = await dir.exp.fs.getattr(dir.id)
      checkModifyDir(before, s.caller(dir, ctx))
      await dir.exp.fs.link(file.id, dir.id, name)
      return await tail()
    }, tail)
  }
}
