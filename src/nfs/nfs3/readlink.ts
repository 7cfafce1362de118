import type { Procedure } from '../server.js'
import { readFh, writePostOpAttr } from './attrs.js'
import { respond, tryGetattr, type Nfs3State, type Target } from './context.js'

/** READLINK3, RFC 1813 §3.3.5. */
export function readlink (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    let t: Target | undefined
    return await respond(async () => {
      t = s.resolve(fh, ctx)
      const target = await t.exp.fs.readlink(t.id)
      const a = await tryGetattr(t)
      const fsid = t.exp.fsid
      return (out) => { writePostOpAttr(out, a, fsid); out.string(target) }
    }, async () => {
      const a = await tryGetattr(t)
      return (out) => { writePostOpAttr(out, a, t?.exp.fsid ?? 0n) }
    })
  }
}
