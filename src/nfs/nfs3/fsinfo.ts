import type { Procedure } from '../server.js'
import { readFh, writePostOpAttr } from './attrs.js'
import { respond, tryGetattr, type Nfs3State, type Target } from './context.js'
import { FSF3 } from './consts.js'
import { MAX_IO_SIZE_1MIB, PREF_DIR_SIZE_64KIB, PREF_IO_SIZE_1MIB } from './limits.js'

/** Views address bytes with JavaScript numbers (see backend-view.ts). */
const MAX_FILE_SIZE = BigInt(Number.MAX_SAFE_INTEGER)

/** FSINFO3, RFC 1813 §3.3.19: rsize/wsize up to 1 MiB, nanosecond times, links and symlinks. */
export function fsinfo (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    let t: Target | undefined
    return await respond(async () => {
      t = s.resolve(fh, ctx)
      const a = await t.exp.fs.getattr(t.id)
      const fsid = t.exp.fsid
      return (out) => {
        writePostOpAttr(out, a, fsid)
        out.uint32(MAX_IO_SIZE_1MIB).uint32(PREF_IO_SIZE_1MIB).uint32(4096) // rtmax rtpref rtmult
        out.uint32(MAX_IO_SIZE_1MIB).uint32(PREF_IO_SIZE_1MIB).uint32(4096) // wtmax wtpref wtmult
        out.uint32(PREF_DIR_SIZE_64KIB).uint64(MAX_FILE_SIZE)
        out.uint32(0).uint32(1) // time_delta: 1 ns
        out.uint32(FSF3.LINK | FSF3.SYMLINK | FSF3.HOMOGENEOUS | FSF3.CANSETTIME)
      }
    }, async () => {
      const a = await tryGetattr(t)
      return (out) => { writePostOpAttr(out, a, t?.exp.fsid ?? 0n) }
    })
  }
}
