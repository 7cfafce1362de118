import { statfs } from 'node:fs/promises'
import type { Attrs as ViewAttrs, ReadView, ViewDirEntry, WriteView } from '../overlay/index.js'
import type { Attrs, Caller, CreateHow, DirEntryOut, Filesystem, FsStat, NodeId, ReaddirResult, SetAttrs } from './backend.js'
import { NfsStatusError, StaleHandleError } from './errors.js'
import { nfsstat3, stable_how, type StableHow } from './nfs3/consts.js'
import { ReadAhead } from './read-ahead.js'

/**
 * The NFS Filesystem over an overlay view (overlay/view.ts): node ids are the view's inode
 * numbers, which it keeps stable across restarts and renames; a handle's path is found with
 * `pathOf` and checked with `stat` (another inode there, or nothing: NFS3ERR_STALE).
 * A ReadView without write methods is exported read-only (NFS3ERR_ROFS).
 */

const NS_PER_MS = 1_000_000n
/** Views address bytes with JavaScript numbers: files end below 2^53. */
const MAX_FILE_BYTES = BigInt(Number.MAX_SAFE_INTEGER)
/** Default bound of the entries of the last listed pages remembered (to resume READDIR at a cookie without a Kv read), and of the nodes whose path and attributes are remembered. */
export const DEFAULT_NODE_CACHE_ENTRIES = 65_536

function toAttrs (a: ViewAttrs): Attrs {
  const size = BigInt(a.size)
  return {
    type: a.kind,
    mode: a.mode,
    nlink: a.kind === 'dir' ? Math.max(2, a.nlink) : a.nlink,
    uid: a.uid,
    gid: a.gid,
    size,
    used: (size + 4095n) & ~4095n,
    rdev: { major: a.devMajor ?? 0, minor: a.devMinor ?? 0 },
    fileid: a.ino,
    atimeNs: a.mtimeNs,
    mtimeNs: a.mtimeNs,
    ctimeNs: a.ctimeNs
  }
}

function join (dir: string, name: string): string { return dir === '/' ? `/${name}` : `${dir}/${name}` }
function parentOf (path: string): string { const i = path.lastIndexOf('/'); return i <= 0 ? '/' : path.slice(0, i) }
function baseOf (path: string): string { return path.slice(path.lastIndexOf('/') + 1) }
function nowNs (): bigint { return BigInt(Date.now()) * NS_PER_MS }

/**
 * CREATE EXCLUSIVE keeps the client's verifier in the new file's mtime (as knfsd does), RFC 1813
 * §3.3.8: 32 bits as seconds and 10 more as whole milliseconds, which every view stores exactly.
 */
function verifierTime (v: Uint8Array): bigint {
  const b = Buffer.from(v)
  return BigInt(b.readUInt32BE(0)) * 1_000_000_000n + BigInt(b.readUInt32BE(4) % 1000) * 1_000_000n
}

export interface ViewFilesystemOptions {
  /** FSSTAT figures; default: those of the file-system holding `statfsPath` (default '/'). */
  statfsPath?: string
  /**
   * Remember where each node is and its attributes until the next mutation through this
   * Filesystem (default true). Only correct while this Filesystem is the view's only writer.
   */
  cacheAttrs?: boolean
  /**
   * Bound of the nodes whose path and attributes are remembered between mutations, and of the
   * directory entries kept to resume listings at a cookie (default DEFAULT_NODE_CACHE_ENTRIES).
   */
  nodeCacheEntries?: number
}

/** A Filesystem over `view`; writes need a WriteView. */
export function viewFilesystem (view: ReadView | WriteView, options: ViewFilesystemOptions = {}): Filesystem {
  const maxEntries = options.nodeCacheEntries ?? DEFAULT_NODE_CACHE_ENTRIES
  if (!(Number.isInteger(maxEntries) && maxEntries >= 1)) throw new RangeError('nodeCacheEntries must be a whole number >= 1')
  const w = (): WriteView => {
    if (view.readOnly || !('write' in view)) throw new NfsStatusError(nfsstat3.NFS3ERR_ROFS)
    return view
  }
  // The last page listed of each directory: a client resumes at one of its cookies (an entry's
  // ino) and the page gives its name without a Kv read. One record per page, not per entry.
  const pages = new Map<NodeId, DirEntryOut[]>()
  let pagedEntries = 0
  const rememberPage = (dir: NodeId, entries: DirEntryOut[]): void => {
    const old = pages.get(dir)
    if (old !== undefined) { pages.delete(dir); pagedEntries -= old.length }
    if (entries.length === 0) return
    pages.set(dir, entries)
    pagedEntries += entries.length
    while (pagedEntries > maxEntries && pages.size > 1) {
      const [oldest, dropped] = pages.entries().next().value as [NodeId, DirEntryOut[]]
      pages.delete(oldest)
      pagedEntries -= dropped.length
    }
  }
  const nameAtCookie = (dir: NodeId, cookie: bigint): string | undefined => {
    const page = pages.get(dir)
    if (page === undefined) return undefined
    for (let i = page.length - 1; i >= 0; i--) if (page[i]!.cookie === cookie) return page[i]!.name
    return undefined
  }

  // Path and attributes by node, valid until the next mutation: `generation` moves before and
  // after each one, so a lookup that raced with a mutation is not remembered.
  // `nfs` memoises the NFS form of `a` (LOOKUP asks for three nodes' attributes per call).
  const known = new Map<NodeId, { path: string, a: ViewAttrs, nfs?: Attrs }>()
  const byPath = new Map<string, ViewAttrs>()
  let generation = 0
  const cacheAttrs = options.cacheAttrs ?? true
  // Bounded in insertion order: within a generation a node's path and attributes do not change,
  // so a node already known is left where it is (no delete and re-insert per listed entry).
  const remember = (gen: number, path: string, a: ViewAttrs): void => {
    if (!cacheAttrs || gen !== generation) return
    if (known.get(a.ino)?.path !== path) {
      known.set(a.ino, { path, a })
      if (known.size > maxEntries) known.delete(known.keys().next().value as NodeId)
    }
    if (!byPath.has(path)) {
      byPath.set(path, a)
      if (byPath.size > maxEntries) byPath.delete(byPath.keys().next().value as string)
    }
  }
  let running = 0
  const mutating = async <T>(fn: () => Promise<T>): Promise<T> => {
    generation++
    running++
    known.clear()
    byPath.clear()
    try {
      return await fn()
    } finally {
      generation++
      running--
      known.clear()
      byPath.clear()
    }
  }

  const readAhead = new ReadAhead(view)

  async function located (id: NodeId): Promise<{ path: string, a: ViewAttrs, nfs?: Attrs }> {
    const hit = known.get(id)
    if (hit !== undefined) return hit
    const gen = generation
    const path = await view.pathOf(id)
    if (path === undefined) throw new StaleHandleError()
    let a: ViewAttrs | undefined
    try {
      a = await view.stat(path)
    } catch (err) {
      throw new StaleHandleError(`file handle is stale: ${(err as Error).message}`)
    }
    if (a === undefined || a.ino !== id) throw new StaleHandleError()
    remember(gen, path, a)
    return { path, a }
  }
  const pathOf = async (id: NodeId): Promise<string> => (await located(id)).path
  const childOf = async (dir: NodeId, name: string): Promise<string> => join(await pathOf(dir), name)
  const createAttrs = (set: SetAttrs, caller: Caller, mtimeNs?: bigint): { mode?: number, uid: number, gid: number, mtimeNs?: bigint } => ({
    mode: set.mode, uid: set.uid ?? caller.uid, gid: set.gid ?? caller.gid, mtimeNs: mtimeNs ?? (typeof set.mtimeNs === 'bigint' ? set.mtimeNs : undefined)
  })

  const fs: Filesystem = {
    root: 1n,
    get readOnly () { return view.readOnly || !('write' in view) },
    get version () { return !cacheAttrs ? undefined : running === 0 ? 2 * generation : 2 * generation + 1 },

    async getattr (id) {
      const at = await located(id)
      return at.nfs ??= toAttrs(at.a)
    },

    async setattr (id, set) {
      const path = await pathOf(id)
      if (set.size !== undefined && set.size > MAX_FILE_BYTES) throw new NfsStatusError(nfsstat3.NFS3ERR_FBIG)
      const mtimeNs = set.mtimeNs === 'now' ? nowNs() : set.mtimeNs
      return toAttrs(await w().setattr(path, {
        mode: set.mode, uid: set.uid, gid: set.gid, size: set.size === undefined ? undefined : Number(set.size), mtimeNs
      }))
    },

    async lookup (dir, name) {
      const { path, a } = await located(dir)
      if (a.kind !== 'dir') throw new NfsStatusError(nfsstat3.NFS3ERR_NOTDIR)
      if (name === '.') return dir
      const target = name === '..' ? parentOf(path) : join(path, name)
      const cached = byPath.get(target)
      if (cached !== undefined) return cached.ino
      const gen = generation
      const child = await view.stat(target)
      if (child === undefined) throw new NfsStatusError(nfsstat3.NFS3ERR_NOENT)
      remember(gen, target, child)
      return child.ino
    },

    async readlink (id) {
      const { path, a } = await located(id)
      if (a.kind !== 'symlink') throw new NfsStatusError(nfsstat3.NFS3ERR_INVAL)
      return a.target ?? await view.readlink(path)
    },

    async read (id, offset, count) {
      const { path, a } = await located(id)
      if (a.kind === 'dir') throw new NfsStatusError(nfsstat3.NFS3ERR_ISDIR)
      if (a.kind !== 'file') throw new NfsStatusError(nfsstat3.NFS3ERR_INVAL)
      if (offset >= BigInt(a.size)) return { data: [], eof: true, attrs: toAttrs(a) }
      const data = await readAhead.read(id, path, offset, count, BigInt(a.size), generation)
      let n = 0
      for (const d of data) n += d.length
      return { data, eof: offset + BigInt(n) >= BigInt(a.size), attrs: toAttrs(a) }
    },

    async write (id, offset, data, stable) {
      const { path, a } = await located(id)
      if (a.kind === 'dir') throw new NfsStatusError(nfsstat3.NFS3ERR_ISDIR)
      if (a.kind !== 'file') throw new NfsStatusError(nfsstat3.NFS3ERR_INVAL)
      const v = w()
      if (offset + BigInt(data.length) > MAX_FILE_BYTES) throw new NfsStatusError(nfsstat3.NFS3ERR_FBIG)
      await v.write(path, Number(offset), data)
      // Each resolved view mutation survives a crash of this process; sync() adds power loss.
      if (stable !== stable_how.UNSTABLE) await v.sync()
      return { committed: (stable === stable_how.UNSTABLE ? stable_how.UNSTABLE : stable_how.FILE_SYNC) as StableHow }
    },

    async commit (id) {
      await located(id)
      if (!fs.readOnly) await w().sync()
    },

    async create (dir, name, how: CreateHow, caller) {
      const path = await childOf(dir, name)
      const existing = await view.stat(path)
      if (how.mode === 'exclusive') {
        const stamp = verifierTime(how.verifier)
        if (existing !== undefined) {
          if (existing.kind === 'file' && existing.mtimeNs === stamp) return existing.ino
          throw new NfsStatusError(nfsstat3.NFS3ERR_EXIST)
        }
        return (await w().create(path, { mode: 0o600, uid: caller.uid, gid: caller.gid, mtimeNs: stamp })).ino
      }
      if (existing !== undefined) {
        if (how.mode === 'guarded') throw new NfsStatusError(nfsstat3.NFS3ERR_EXIST)
        if (existing.kind === 'dir') throw new NfsStatusError(nfsstat3.NFS3ERR_ISDIR)
        if (how.attrs.size !== undefined) await w().setattr(path, { size: Number(how.attrs.size) })
        return existing.ino
      }
      const created = await w().create(path, createAttrs(how.attrs, caller))
      if (how.attrs.size !== undefined && how.attrs.size > 0n) await w().setattr(path, { size: Number(how.attrs.size) })
      return created.ino
    },

    async mkdir (dir, name, set, caller) {
      return (await w().mkdir(await childOf(dir, name), createAttrs(set, caller))).ino
    },

    async symlink (dir, name, target, set, caller) {
      return (await w().symlink(await childOf(dir, name), target, createAttrs(set, caller))).ino
    },

    async mknod (dir, name, type, rdev, set, caller) {
      return (await w().mknod(await childOf(dir, name), type, rdev, createAttrs(set, caller))).ino
    },

    async remove (dir, name) { await w().unlink(await childOf(dir, name)) },
    async rmdir (dir, name) { await w().rmdir(await childOf(dir, name)) },

    async rename (fromDir, fromName, toDir, toName) {
      const [from, to] = await Promise.all([childOf(fromDir, fromName), childOf(toDir, toName)])
      await w().rename(from, to)
    },

    async link (id, dir, name) {
      const [existing, path] = await Promise.all([pathOf(id), childOf(dir, name)])
      await w().link(existing, path)
    },

    async readdir (dir, cookie, maxEntries): Promise<ReaddirResult> {
      const { path, a } = await located(dir)
      if (a.kind !== 'dir') throw new NfsStatusError(nfsstat3.NFS3ERR_NOTDIR)
      let after: string | undefined
      if (cookie !== 0n) {
        after = nameAtCookie(dir, cookie)
        if (after === undefined) {
          const p = await view.pathOf(cookie)
          if (p === undefined) throw new NfsStatusError(nfsstat3.NFS3ERR_BAD_COOKIE)
          after = baseOf(p)
        }
      }
      const entries: ReaddirResult['entries'] = []
      let eof = true
      const gen = generation
      const take = (e: ViewDirEntry): void => {
        remember(gen, join(path, e.name), e.attrs)
        entries.push({ name: e.name, id: e.attrs.ino, cookie: e.attrs.ino, attrs: toAttrs(e.attrs) })
      }
      if (view.readdirPage !== undefined) {
        // One more than wanted tells whether the listing goes on.
        const page = await view.readdirPage(path, after, maxEntries + 1)
        eof = page.length <= maxEntries
        for (let i = 0; i < page.length && i < maxEntries; i++) take(page[i]!)
      } else {
        for await (const e of view.readdir(path, after)) {
          if (entries.length >= maxEntries) { eof = false; break }
          take(e)
        }
      }
      rememberPage(dir, entries)
      return { entries, eof, verifier: 0n }
    },

    async fsstat (): Promise<FsStat> {
      const st = await statfs(options.statfsPath ?? '/', { bigint: true })
      return {
        tbytes: st.blocks * st.bsize, fbytes: st.bfree * st.bsize, abytes: st.bavail * st.bsize,
        tfiles: st.files, ffiles: st.ffree, afiles: st.ffree
      }
    }
  }
  for (const m of MUTATIONS) {
    const op = fs[m] as (...args: unknown[]) => Promise<unknown>
    ;(fs as unknown as Record<string, unknown>)[m] = async (...args: unknown[]) => await mutating(async () => await op(...args))
  }
  return fs
}

const MUTATIONS = ['setattr', 'write', 'create', 'mkdir', 'symlink', 'mknod', 'remove', 'rmdir', 'rename', 'link'] as const
