import type { Attrs } from '../backend.js'
import { NfsStatusError } from '../errors.js'
import type { Procedure } from '../server.js'
import { checkSetattr } from './permissions.js'
import { readFh, readSattr3, readTime, writeWcc } from './attrs.js'
import { respond, tryGetattr, type Nfs3State, type Target } from './context.js'
import { nfsstat3 } from './consts.js'

/** SETATTR3, RFC 1813 §3.3.2: sattr3 with an optional ctime guard (NFS3ERR_NOT_SYNC). */
export function setattr (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    const set = readSattr3(args)
    const guard = args.bool() ? readTime(args) : undefined
    let t: Target | undefined
    let before: Attrs | undefined
    return await respond(async () => {
      t = s.resolve(fh, ctx)
      before = await t.exp.fs.getattr(t.id)
      if (guard !== undefined && before.ctimeNs !== guard) {
        throw new NfsStatusError(nfsstat3.NFS3ERR_NOT_SYNC)
      }
      if (t.exp.fs.readOnly) throw new NfsStatusError(nfsstat3.NFS3ERR_ROFS)
      checkSetattr(before, set, s.caller(t, ctx))
      const after = await t.exp.fs.setattr(t.id, set, s.caller(t, ctx))
      const exp = t.exp
      const b = before
      return (out) => { writeWcc(out, b, after, exp.fsid) }
    }, async () => {
      const after = await tryGetattr(t)
      return (out) => { writeWcc(out, before, after, t?.exp.fsid ?? 0n) }
    })
  }
}
