import type { Attrs } from '../backend.js'
import { NfsStatusError, XdrError } from '../errors.js'
import type { Procedure } from '../server.js'
import { checkWrite } from './permissions.js'
import { readFh, writeWcc } from './attrs.js'
import { respond, tryGetattr, type Nfs3State, type Target } from './context.js'
import { nfsstat3, stable_how, type StableHow } from './consts.js'
import { MAX_IO_SIZE_1MIB } from './limits.js'

/**
 * WRITE3, RFC 1813 §3.3.7. The reply's `committed` is at least the `stable` asked for, and
 * `verf` is the server's write verifier (it changes on restart, so clients resend UNSTABLE
 * data that a crash may have lost).
 */
export function write (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    const offset = args.uint64()
    const count = args.uint32()
    const stable = args.uint32()
    if (stable > stable_how.FILE_SYNC) throw new XdrError(`stable_how ${stable}`)
    const data = args.opaque(MAX_IO_SIZE_1MIB)
    let t: Target | undefined
    let before: Attrs | undefined
    return await respond(async () => {
      t = s.resolve(fh, ctx)
      if (count > data.length) throw new NfsStatusError(nfsstat3.NFS3ERR_INVAL, 'count exceeds the data sent')
      if (t.exp.fs.readOnly) throw new NfsStatusError(nfsstat3.NFS3ERR_ROFS)
      before = await t.exp.fs.getattr(t.id)
      checkWrite(before, s.caller(t, ctx))
      const { committed } = await t.exp.fs.write(t.id, offset, data.subarray(0, count), stable as StableHow)
      const after = await tryGetattr(t)
      const fsid = t.exp.fsid
      const b = before
      return (out) => {
        writeWcc(out, b, after, fsid)
        out.uint32(count).uint32(committed).opaqueFixed(s.writeVerifier)
      }
    }, async () => {
      const after = await tryGetattr(t)
      return (out) => { writeWcc(out, before, after, t?.exp.fsid ?? 0n) }
    })
  }
}
