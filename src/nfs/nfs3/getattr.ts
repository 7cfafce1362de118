import type { Procedure } from '../server.js'
import { writeFattr3 } from './attrs.js'
import { readFh, respond, type Nfs3State } from './context.js'

/** GETATTR3, RFC 1813 §3.3.1: fattr3 of a handle. */
export function getattr (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    return await respond(async () => {
      const t = s.resolve(fh, ctx)
      const a = await t.exp.fs.getattr(t.id)
      return (out) => { writeFattr3(out, a, t.exp.fsid) }
    }, () => () => {})
  }
}
