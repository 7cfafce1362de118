import { NfsStatusError } from '../errors.js'
import type { SetAttrs } from '../backend.js'
import type { Procedure } from '../server.js'
import { checkMknod } from './permissions.js'
import { readFh, readSattr3 } from './attrs.js'
import { readName, respond, type Nfs3State } from './context.js'
import { ftype3, nfsstat3 } from './consts.js'
import { createIn } from './dirop.js'
import { writeWcc } from './attrs.js'

/** MKNOD3, RFC 1813 §3.3.11: devices, fifos and sockets; other types are NFS3ERR_BADTYPE. */
export function mknod (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const dir = readFh(args)
    const name = readName(args)
    const type = args.uint32()
    let kind: 'chardev' | 'blockdev' | 'fifo' | 'socket'
    let attrs: SetAttrs
    let rdev = { major: 0, minor: 0 }
    switch (type) {
      case ftype3.NF3CHR:
      case ftype3.NF3BLK:
        kind = type === ftype3.NF3CHR ? 'chardev' : 'blockdev'
        attrs = readSattr3(args)
        rdev = { major: args.uint32(), minor: args.uint32() }
        break
      case ftype3.NF3SOCK:
      case ftype3.NF3FIFO:
        kind = type === ftype3.NF3SOCK ? 'socket' : 'fifo'
        attrs = readSattr3(args)
        break
      default:
        return await respond(async () => { throw new NfsStatusError(nfsstat3.NFS3ERR_BADTYPE) },
          () => (out) => { writeWcc(out, undefined, undefined, 0n) })
    }
    return await createIn(s, dir, name, ctx, async (fs, d, caller) => checkMknod(kind, caller) ?? await fs.mknod(d, name, kind, rdev, attrs, caller))
  }
}
