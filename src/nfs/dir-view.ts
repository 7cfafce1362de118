import { constants, type BigIntStats } from 'node:fs'
import {
  chmod, link as fsLink, lchown, lstat, lutimes, mkdir as fsMkdir, open, opendir, readlink as fsReadlink, rename as fsRename,
  rmdir as fsRmdir, symlink as fsSymlink, truncate, unlink as fsUnlink, utimes
} from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import type { Attrs, CreateAttrs, FileKind, Ino, SetAttrs, ViewDirEntry, WriteView } from '../overlay/index.js'
import { NfsStatusError } from './errors.js'
import { nfsstat3 } from './nfs3/consts.js'

/**
 * A WriteView over a plain local directory (pass-through, no layers): for exporting a real
 * directory (tests, side-by-side benchmarks with other NFS servers). Inode numbers are the
 * directory's own (the root reported as 1). `pathOf` only knows paths this process has seen,
 * so handles of this view do not survive a server restart unless re-looked-up (the overlay
 * view's do).
 */

const execFileP = promisify(execFile)

function kindOf (st: BigIntStats): FileKind {
  if (st.isFile()) return 'file'
  if (st.isDirectory()) return 'dir'
  if (st.isSymbolicLink()) return 'symlink'
  if (st.isCharacterDevice()) return 'chardev'
  if (st.isBlockDevice()) return 'blockdev'
  if (st.isFIFO()) return 'fifo'
  return 'socket'
}

function toDate (ns: bigint): Date { return new Date(Number(ns / 1_000_000n)) }

export class DirView implements WriteView {
  readonly readOnly = false
  readonly #root: string
  #rootIno = -1n
  readonly #paths = new Map<Ino, string>([[1n, '/']])
  readonly #dirty = new Set<string>()

  constructor (root: string) { this.#root = root }

  #real (path: string): string {
    if (!path.startsWith('/') || path.split('/').some((s) => s === '..' || s === '.')) throw new NfsStatusError(nfsstat3.NFS3ERR_INVAL)
    return join(this.#root, path)
  }

  #attrs (path: string, st: BigIntStats): Attrs {
    if (this.#rootIno < 0n && path === '/') this.#rootIno = st.ino
    const ino = st.ino === this.#rootIno ? 1n : st.ino
    this.#paths.set(ino, path)
    return {
      ino, kind: kindOf(st), mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid),
      size: Number(st.size), nlink: Number(st.nlink), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs,
      devMajor: Number(st.rdev >> 8n & 0xfffn), devMinor: Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn))
    }
  }

  async stat (path: string): Promise<Attrs | undefined> {
    if (this.#rootIno < 0n && path !== '/') await this.stat('/')
    try {
      return this.#attrs(path, await lstat(this.#real(path), { bigint: true }))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  async statRequired (path: string): Promise<Attrs> {
    const a = await this.stat(path)
    if (a === undefined) throw Object.assign(new Error(`no such file: ${path}`), { code: 'ENOENT' })
    return a
  }

  async pathOf (ino: Ino): Promise<string | undefined> { return this.#paths.get(ino) }

  async * readdir (path: string, after?: string): AsyncIterable<ViewDirEntry> {
    const names: string[] = []
    for await (const d of await opendir(this.#real(path))) names.push(d.name)
    names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    for (const name of names) {
      if (after !== undefined && Buffer.compare(Buffer.from(name), Buffer.from(after)) <= 0) continue
      const child = path === '/' ? `/${name}` : `${path}/${name}`
      const a = await this.stat(child)
      if (a !== undefined) yield { name, attrs: a }
    }
  }

  async readlink (path: string): Promise<string> { return await fsReadlink(this.#real(path)) }

  async read (path: string, offset: number, length: number): Promise<Uint8Array> {
    const fh = await open(this.#real(path), 'r')
    try {
      const buf = Buffer.allocUnsafe(length)
      const { bytesRead } = await fh.read(buf, 0, length, offset)
      return buf.subarray(0, bytesRead)
    } finally { await fh.close() }
  }

  async #owned (path: string, attrs: CreateAttrs | undefined): Promise<Attrs> {
    const real = this.#real(path)
    if (attrs?.uid !== undefined || attrs?.gid !== undefined) await lchown(real, attrs.uid ?? -1, attrs.gid ?? -1)
    if (attrs?.mtimeNs !== undefined) await lutimes(real, toDate(attrs.mtimeNs), toDate(attrs.mtimeNs))
    return await this.statRequired(path)
  }

  async create (path: string, attrs?: CreateAttrs): Promise<Attrs> {
    const fh = await open(this.#real(path), constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, attrs?.mode ?? 0o644)
    await fh.close()
    if (attrs?.mode !== undefined) await chmod(this.#real(path), attrs.mode)
    return await this.#owned(path, attrs)
  }

  async mkdir (path: string, attrs?: CreateAttrs): Promise<Attrs> {
    await fsMkdir(this.#real(path), { mode: attrs?.mode ?? 0o755 })
    if (attrs?.mode !== undefined) await chmod(this.#real(path), attrs.mode)
    return await this.#owned(path, attrs)
  }

  async symlink (path: string, target: string, attrs?: CreateAttrs): Promise<Attrs> {
    await fsSymlink(target, this.#real(path))
    return await this.#owned(path, attrs)
  }

  async mknod (path: string, kind: 'chardev' | 'blockdev' | 'fifo' | 'socket', dev: { major: number, minor: number }, attrs?: CreateAttrs): Promise<Attrs> {
    const type = { chardev: 'c', blockdev: 'b', fifo: 'p', socket: 'p' }[kind]
    const args = ['-m', (attrs?.mode ?? 0o644).toString(8), this.#real(path), type]
    if (type === 'c' || type === 'b') args.push(String(dev.major), String(dev.minor))
    await execFileP('mknod', args)
    return await this.#owned(path, attrs)
  }

  async link (existing: string, path: string): Promise<Attrs> {
    await fsLink(this.#real(existing), this.#real(path))
    return await this.statRequired(path)
  }

  async write (path: string, offset: number, data: Uint8Array): Promise<Attrs> {
    const fh = await open(this.#real(path), 'r+')
    try { await fh.write(data, 0, data.length, offset) } finally { await fh.close() }
    this.#dirty.add(path)
    return await this.statRequired(path)
  }

  async setattr (path: string, set: SetAttrs): Promise<Attrs> {
    const real = this.#real(path)
    if (set.size !== undefined) await truncate(real, set.size)
    if (set.mode !== undefined) await chmod(real, set.mode)
    if (set.uid !== undefined || set.gid !== undefined) await lchown(real, set.uid ?? -1, set.gid ?? -1)
    if (set.mtimeNs !== undefined) {
      const t = toDate(set.mtimeNs)
      if ((await this.statRequired(path)).kind === 'symlink') await lutimes(real, t, t)
      else await utimes(real, t, t)
    }
    return await this.statRequired(path)
  }

  async unlink (path: string): Promise<void> {
    const a = await this.statRequired(path)
    if (a.kind === 'dir') throw new NfsStatusError(nfsstat3.NFS3ERR_ISDIR)
    await fsUnlink(this.#real(path))
  }

  async rmdir (path: string): Promise<void> { await fsRmdir(this.#real(path)) }

  async rename (from: string, to: string): Promise<void> {
    await fsRename(this.#real(from), this.#real(to))
    for (const [ino, p] of this.#paths) {
      if (p === from) this.#paths.set(ino, to)
      else if (p.startsWith(from + '/')) this.#paths.set(ino, to + p.slice(from.length))
    }
  }

  /** fsyncs every file written since the last sync. */
  async sync (): Promise<void> {
    const dirty = [...this.#dirty]
    this.#dirty.clear()
    await Promise.all(dirty.map(async (path) => {
      try {
        const fh = await open(this.#real(path), 'r')
        try { await fh.datasync() } finally { await fh.close() }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    }))
  }

  async close (): Promise<void> {}
}

