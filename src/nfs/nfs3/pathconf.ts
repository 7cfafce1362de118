import type { Procedure } from '../server.js'
import { readFh, writePostOpAttr } from './attrs.js'
import { NAME_MAX, respond, tryGetattr, type Nfs3State, type Target } from './context.js'

const LINK_MAX = 65_000

/** PATHCONF3, RFC 1813 §3.3.20: POSIX limits; long names are refused, case is preserved. */
export function pathconf (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    let t: Target | undefined
    return await respond(async () => {
      t = s.resolve(fh, ctx)
      const a = await t.exp.fs.getattr(t.id)
      const fsid = t.exp.fsid
      return (out) => {
        writePostOpAttr(out, a, fsid)
        out.uint32(LINK_MAX).uint32(NAME_MAX).bool(true).bool(true).bool(false).bool(true)
      }
    }, async () => {
      const a = await tryGetattr(t)
      return (out) => { writePostOpAttr(out, a, t?.exp.fsid ?? 0n) }
    })
  }
}
