import type { NodeId } from '../backend.js'
import { statusOf } from '../errors.js'
import type { NfsExport } from '../exports.js'
import { auth_flavor } from '../rpc.js'
import type { Encoder, RpcProgram } from '../server.js'
import type { XdrWriter } from '../xdr.js'
import { MNTPATHLEN, MOUNT_PROGRAM, MOUNT_V3, MOUNTPROC3, mountstat3, nfsstat3 } from '../nfs3/consts.js'
import type { Nfs3State } from '../nfs3/context.js'

/** Mount list entries kept for DUMP; older ones are forgotten beyond this. */
const MAX_MOUNT_LIST = 1024

/**
 * MOUNT version 3 (RFC 1813 Appendix I): MNT hands out the handle of an export's root (or of a
 * directory below it) to an allowed address, EXPORT lists the exports with their allowed addresses (so `nfs-ls -D` and
 * `showmount -e` work), DUMP/UMNT/UMNTALL keep an advisory list of mounts.
 */
export function mountProgram (s: Nfs3State): RpcProgram {
  const mounts = new Map<string, { host: string, dir: string }>()
  const byName = (name: string): NfsExport | undefined => {
    const clean = name.length > 1 ? name.replace(/\/+$/, '') : name
    return s.exports.find((e) => e.name === clean)
  }
  /** The export holding `path` (its longest name that is a whole-component prefix) and the rest. */
  const locate = (path: string): { exp: NfsExport, rest: string[] } | undefined => {
    const parts = path.split('/').filter((p) => p.length > 0)
    for (let n = parts.length; n >= 0; n--) {
      const exp = byName('/' + parts.slice(0, n).join('/'))
      if (exp !== undefined) return { exp, rest: parts.slice(n) }
    }
    return undefined
  }
  /** MNT of a subdirectory of an export (as knfsd allows): walks the rest with LOOKUP. */
  const resolveDir = async (exp: NfsExport, rest: string[]): Promise<NodeId | number> => {
    let id = exp.fs.root
    try {
      for (const name of rest) {
        if (name === '.' || name === '..') return mountstat3.MNT3ERR_INVAL
        id = await exp.fs.lookup(id, name)
      }
      const a = await exp.fs.getattr(id)
      return a.type === 'dir' ? id : mountstat3.MNT3ERR_NOTDIR
    } catch (err) {
      const st = statusOf(err)
      return st === nfsstat3.NFS3ERR_NOENT || st === nfsstat3.NFS3ERR_NOTDIR ? st : mountstat3.MNT3ERR_IO
    }
  }
  return {
    prog: MOUNT_PROGRAM,
    vers: MOUNT_V3,
    procs: {
      [MOUNTPROC3.NULL]: () => () => {},
      /** MOUNTPROC3_MNT, Appendix I §5.2.1. */
      [MOUNTPROC3.MNT]: (args, ctx) => {
        const dir = args.string(MNTPATHLEN)
        const found = locate(dir)
        if (found === undefined) return (out) => { out.uint32(mountstat3.MNT3ERR_NOENT) }
        const exp = found.exp
        if (!exp.allows(ctx.remoteAddress)) return (out) => { out.uint32(mountstat3.MNT3ERR_ACCES) }
        const mounted = (id: NodeId | number): Encoder => {
          if (typeof id === 'number') return (out) => { out.uint32(id) }
          const key = `${ctx.remoteAddress}\0${exp.name}`
          mounts.delete(key)
          mounts.set(key, { host: ctx.remoteAddress, dir: exp.name })
          if (mounts.size > MAX_MOUNT_LIST) mounts.delete(mounts.keys().next().value as string)
          const fh = s.handle(exp, id)
          return (out) => {
            out.uint32(mountstat3.MNT3_OK).opaque(fh)
            out.uint32(2).uint32(auth_flavor.AUTH_SYS).uint32(auth_flavor.AUTH_NONE)
          }
        }
        // The export's own root (what nearly every client mounts) needs no walk: answered at once.
        if (found.rest.length === 0) return mounted(exp.fs.root)
        return resolveDir(exp, found.rest).then(mounted)
      },
      /** MOUNTPROC3_DUMP, Appendix I §5.2.2. */
      [MOUNTPROC3.DUMP]: () => (out) => {
        for (const m of mounts.values()) out.bool(true).string(m.host).string(m.dir)
        out.bool(false)
      },
      /** MOUNTPROC3_UMNT, Appendix I §5.2.3. */
      [MOUNTPROC3.UMNT]: (args, ctx) => {
        const dir = args.string(MNTPATHLEN)
        mounts.delete(`${ctx.remoteAddress}\0${byName(dir)?.name ?? dir}`)
        return () => {}
      },
      /** MOUNTPROC3_UMNTALL, Appendix I §5.2.4. */
      [MOUNTPROC3.UMNTALL]: (_args, ctx) => {
        for (const [k, m] of mounts) if (m.host === ctx.remoteAddress) mounts.delete(k)
        return () => {}
      },
      /** MOUNTPROC3_EXPORT, Appendix I §5.2.5. */
      [MOUNTPROC3.EXPORT]: () => (out: XdrWriter) => {
        for (const e of s.exports) {
          out.bool(true).string(e.name)
          for (const g of e.allow) out.bool(true).string(g)
          out.bool(false)
        }
        out.bool(false)
      }
    }
  }
}
