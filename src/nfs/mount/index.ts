import type { NodeId } from '../backend.js'
import { statusOf } from '../errors.js'
import type { NfsExport } from '../exports.js'
import { auth_flavor } from '../rpc.js'
import type { Encoder, RpcProgram } from '../server.js'
import { XdrWriter } from '../xdr.js'
import { MNTPATHLEN, MOUNT_PROGRAM, MOUNT_V3, MOUNTPROC3, mountstat3, nfsstat3 } from '../nfs3/consts.js'
import type { Nfs3State } from '../nfs3/context.js'
import { stableVersion } from '../nfs3/reply-cache.js'

/** Mount list entries kept for DUMP; older ones are forgotten beyond this. */
const MAX_MOUNT_LIST = 1024
/** Subdirectories whose MNT walk is remembered (all are forgotten when full). */
const MAX_RESOLVED_DIRS = 4096

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
  const components = (path: string): string[] => path.split('/').filter((p) => p.length > 0)
  const named = s.exports.map((exp) => ({ exp, parts: components(exp.name) }))
  /** The export holding `path` (its longest name that is a whole-component prefix) and the rest. */
  const locate = (path: string): { exp: NfsExport, rest: string[] } | undefined => {
    const parts = components(path)
    let best: typeof named[number] | undefined
    for (const n of named) {
      if (n.parts.length > parts.length || (best !== undefined && n.parts.length <= best.parts.length)) continue
      if (n.parts.every((p, i) => parts[i] === p)) best = n
    }
    return best === undefined ? undefined : { exp: best.exp, rest: parts.slice(best.parts.length) }
  }
  /**
   * locate() of each path MNT was given, with the key of its rest in `resolved`: the exports
   * are fixed, so the answer for a path never changes (nfs-cat mounts once per process, the
   * same few directories again and again). Bounded: forgotten all at once when full.
   */
  const located = new Map<string, { exp: NfsExport, rest: string[], key: string } | null>()
  const locateOnce = (dir: string): { exp: NfsExport, rest: string[], key: string } | undefined => {
    let hit = located.get(dir)
    if (hit === undefined) {
      const found = locate(dir)
      hit = found === undefined ? null : { exp: found.exp, rest: found.rest, key: `${found.exp.id}/${found.rest.join('/')}` }
      if (located.size >= MAX_RESOLVED_DIRS) located.clear()
      located.set(dir, hit)
    }
    return hit ?? undefined
  }
  /**
   * Directories below an export that MNT resolved, by export id and path, with the export's
   * version then (libnfs's nfs-cat mounts the parent directory of the file it reads: one MNT
   * per process, and a walk each without this).
   */
  const resolved = new Map<string, { version: number, id: NodeId }>()
  let exportList: Uint8Array | undefined
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
        const found = locateOnce(dir)
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
        // The export's own root needs no walk, nor does a directory resolved before at this
        // version: both answered at once.
        if (found.rest.length === 0) return mounted(exp.fs.root)
        const version = stableVersion(exp)
        const key = found.key
        const known = version === undefined ? undefined : resolved.get(key)
        if (known !== undefined && known.version === version) return mounted(known.id)
        return resolveDir(exp, found.rest).then((id) => {
          if (typeof id !== 'number' && version !== undefined && exp.fs.version === version) {
            if (resolved.size >= MAX_RESOLVED_DIRS) resolved.clear()
            resolved.set(key, { version, id })
          }
          return mounted(id)
        })
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
      /** MOUNTPROC3_EXPORT, Appendix I §5.2.5: the exports are fixed, so is the list. */
      [MOUNTPROC3.EXPORT]: () => {
        if (exportList === undefined) {
          const w = new XdrWriter()
          for (const e of s.exports) {
            w.bool(true).string(e.name)
            for (const g of e.allow) w.bool(true).string(g)
            w.bool(false)
          }
          exportList = w.bool(false).bytes()
        }
        const list = exportList
        return (out) => { out.opaqueFixed(list) }
      }
    }
  }
}
