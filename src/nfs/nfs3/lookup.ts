import type { Procedure } from '../server.js'
import { checkSearch } from './permissions.js'
import { readFh, writePostOpAttr } from './attrs.js'
import { checkName, readName, respond, tryGetattr, type Nfs3State, type Target } from './context.js'

/** LOOKUP3, RFC 1813 §3.3.3: the handle of a name in a directory, with both attributes. */
export function lookup (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    const name = readName(args)
    let t: Target | undefined
    return await respond(async () => {
      t = s.resolve(fh, ctx)
      checkName(name, false)
      checkSearch(await t.exp.fs.getattr(t.id), s.caller(t, ctx))
      const id = await t.exp.fs.lookup(t.id, name)
      const [obj, dir] = await Promise.all([t.exp.fs.getattr(id), tryGetattr(t)])
      const child = s.handle(t.exp, id)
      const fsid = t.exp.fsid
      return (out) => { out.opaque(child); writePostOpAttr(out, obj, fsid); writePostOpAttr(out, dir, fsid) }
    }, async () => {
      const dir = await tryGetattr(t)
      return (out) => { writePostOpAttr(out, dir, t?.exp.fsid ?? 0n) }
    })
  }
}
