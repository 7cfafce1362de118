import type { Procedure } from '../server.js'
import { checkRead } from './permissions.js'
import { readFh, writePostOpAttr } from './attrs.js'
import { respond, tryGetattr, type Nfs3State, type Target } from './context.js'
import { MAX_IO_SIZE_1MIB } from './limits.js'

/** READ3, RFC 1813 §3.3.6: count is clamped to rtmax; the data (cached chunks) goes out without a copy. */
export function read (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    const offset = args.uint64()
    const count = Math.min(args.uint32(), MAX_IO_SIZE_1MIB)
    let t: Target | undefined
    return await respond(async () => {
      t = s.resolve(fh, ctx)
      checkRead(await t.exp.fs.getattr(t.id), s.caller(t, ctx))
      const { data, eof, attrs } = await t.exp.fs.read(t.id, offset, count)
      const a = attrs ?? await tryGetattr(t)
      const fsid = t.exp.fsid
      let n = 0
      for (const d of data) n += d.length
      return (out) => { writePostOpAttr(out, a, fsid); out.uint32(n).bool(eof).opaqueRefs(data) }
    }, async () => {
      const a = await tryGetattr(t)
      return (out) => { writePostOpAttr(out, a, t?.exp.fsid ?? 0n) }
    })
  }
}
