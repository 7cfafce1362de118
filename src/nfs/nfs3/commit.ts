import type { Attrs } from '../backend.js'
import type { Procedure } from '../server.js'
import { readFh, writeWcc } from './attrs.js'
import { respond, tryGetattr, type Nfs3State, type Target } from './context.js'

/** COMMIT3, RFC 1813 §3.3.21: makes earlier UNSTABLE writes of the file durable. */
export function commit (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    args.uint64() // offset: the whole file is committed
    args.uint32() // count
    let t: Target | undefined
    let before: Attrs | undefined
    return await respond(async () => {
      t = s.resolve(fh, ctx)
      before = await t.exp.fs.getattr(t.id)
      await t.exp.fs.commit(t.id)
      const after = await tryGetattr(t)
      const fsid = t.exp.fsid
      const b = before
      return (out) => { writeWcc(out, b, after, fsid); out.opaqueFixed(s.writeVerifier) }
    }, async () => {
      const after = await tryGetattr(t)
      return (out) => { writeWcc(out, before, after, t?.exp.fsid ?? 0n) }
    })
  }
}
