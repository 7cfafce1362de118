import type { Procedure } from '../server.js'
import { readFh, writePostOpAttr } from './attrs.js'
import { respond, tryGetattr, type Nfs3State, type Target } from './context.js'

/** FSSTAT3, RFC 1813 §3.3.18. invarsec 0: the figures may change at any time. */
export function fsstat (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    let t: Target | undefined
    return await respond(async () => {
      t = s.resolve(fh, ctx)
      const [st, a] = await Promise.all([t.exp.fs.fsstat(), tryGetattr(t)])
      const fsid = t.exp.fsid
      return (out) => {
        writePostOpAttr(out, a, fsid)
        out.uint64(st.tbytes).uint64(st.fbytes).uint64(st.abytes).uint64(st.tfiles).uint64(st.ffiles).uint64(st.afiles).uint32(0)
      }
    }, async () => {
      const a = await tryGetattr(t)
      return (out) => { writePostOpAttr(out, a, t?.exp.fsid ?? 0n) }
    })
  }
}
