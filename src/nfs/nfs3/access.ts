import type { Attrs, Caller } from '../backend.js'
import type { Procedure } from '../server.js'
import { readFh, writePostOpAttr } from './attrs.js'
import { respond, tryGetattr, type Nfs3State, type Target } from './context.js'
import { ACCESS3 } from './consts.js'

/** The rwx bits (4/2/1) that `caller` holds on a node with attributes `a` (POSIX classes). */
export function permissionBits (a: Attrs, caller: Caller): number {
  if (caller.uid === 0) return 0o6 | ((a.mode & 0o111) !== 0 || a.type === 'dir' ? 1 : 0)
  if (caller.uid === a.uid) return (a.mode >> 6) & 7
  if (caller.gid === a.gid || caller.gids.includes(a.gid)) return (a.mode >> 3) & 7
  return a.mode & 7
}

/** ACCESS3 bits granted for `wanted`, RFC 1813 §3.3.4. */
export function grantedAccess (a: Attrs, caller: Caller, wanted: number, readOnly: boolean): number {
  const p = permissionBits(a, caller)
  let granted = 0
  if ((p & 4) !== 0) granted |= ACCESS3.READ
  if (a.type === 'dir') {
    if ((p & 1) !== 0) granted |= ACCESS3.LOOKUP
    if ((p & 2) !== 0 && !readOnly) granted |= ACCESS3.MODIFY | ACCESS3.EXTEND | ACCESS3.DELETE
  } else {
    if ((p & 1) !== 0) granted |= ACCESS3.EXECUTE
    if ((p & 2) !== 0 && !readOnly) granted |= ACCESS3.MODIFY | ACCESS3.EXTEND
  }
  return granted & wanted
}

/** ACCESS3, RFC 1813 §3.3.4. */
export function access (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    const wanted = args.uint32()
    let t: Target | undefined
    return await respond(async () => {
      t = s.resolve(fh, ctx)
      const a = await t.exp.fs.getattr(t.id)
      const granted = grantedAccess(a, s.caller(t, ctx), wanted, t.exp.fs.readOnly)
      const fsid = t.exp.fsid
      return (out) => { writePostOpAttr(out, a, fsid); out.uint32(granted) }
    }, async () => {
      const a = await tryGetattr(t)
      return (out) => { writePostOpAttr(out, a, t?.exp.fsid ?? 0n) }
    })
  }
}
