import { chmodSync, closeSync, existsSync, fchmodSync, fchownSync, lchownSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, symlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { AbortOptions, ChunkReader } from '../cas/interface.js'
import { ExportError } from './errors.js'
import type { Entry } from './interface.js'
import { posix, S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK } from './posix.js'
import { openTree, type Tree } from './tree.js'

export interface ExportOptions extends AbortOptions {
  /** Progress: content bytes written so far. */
  readonly onBytes?: (n: number) => void
}

/** What an export wrote. */
export interface ExportResult {
  readonly files: number
  readonly dirs: number
  readonly symlinks: number
  readonly specials: number
  readonly hardlinks: number
  readonly bytes: number
}

const IS_ROOT = process.getuid?.() === 0

/**
 * Writes the tree `root` of `reader` into directory `dest` (created if absent; it must be
 * empty), with every piece of metadata: owner (lchown; skipped without privilege), mode
 * bits including setuid/setgid/sticky (set after chown, which clears them), xattrs,
 * nanosecond mtimes (utimensat, after contents for directories), hard links, devices, fifos
 * and sockets. Whiteouts become 0/0 character devices (the overlayfs convention). Rejects
 * OVERLAY_EXPORT_FAILED when `dest` is not an empty directory or a node cannot be created,
 * CAS_CHUNK_MISSING/OVERLAY_BAD_NODE for a broken tree.
 */
export async function exportDirectory (reader: ChunkReader, root: CID, dest: string, options: ExportOptions = {}): Promise<ExportResult> {
  prepareDest(dest)
  const tree = openTree(reader, root)
  const job = new DirExport(tree, dest, options)
  const rootEntry = await tree.rootEntry()
  await job.dir(rootEntry, dest, '')
  return job.counts
}

function prepareDest (dest: string): void {
  if (!existsSync(dest)) {
    try { mkdirSync(dest, 0o700) } catch (err) { throw new ExportError(`cannot create ${dest}`, { cause: err }) }
    return
  }
  if (!lstatSync(dest).isDirectory()) throw new ExportError(`destination exists and is not a directory: ${dest}`)
  if (readdirSync(dest).length > 0) throw new ExportError(`destination directory is not empty: ${dest}`)
}

class DirExport {
  readonly counts = { files: 0, dirs: 0, symlinks: 0, specials: 0, hardlinks: 0, bytes: 0 }
  readonly #tree: Tree
  readonly #dest: string
  readonly #options: ExportOptions
  readonly #posix = posix()

  constructor (tree: Tree, dest: string, options: ExportOptions) {
    this.#tree = tree; this.#dest = dest; this.#options = options
  }

  /** Writes the contents of directory `entry` into existing directory `path`, then its metadata. */
  async dir (entry: Entry, path: string, rel: string): Promise<void> {
    this.#options.signal?.throwIfAborted()
    this.counts.dirs++
    for await (const child of this.#tree.readdir(entry)) {
      const full = join(path, child.name)
      const childRel = rel === '' ? child.name : `${rel}/${child.name}`
      try {
        await this.#child(child, full, childRel)
      } catch (err) {
        if (err instanceof ExportError || (err as { code?: string }).code?.startsWith('CAS_') === true) throw err
        throw new ExportError(`cannot create ${full}`, { cause: err })
      }
    }
    this.#meta(path, entry)
  }

  async #child (e: Entry, full: string, rel: string): Promise<void> {
    const P = this.#posix
    switch (e.kind) {
      case 'dir':
        mkdirSync(full, 0o700)
        await this.dir(e, full, rel)
        return
      case 'file':
        if (e.hardlink !== undefined && e.hardlink !== rel) {
          linkSync(join(this.#dest, e.hardlink), full)
          this.counts.hardlinks++
          return
        }
        await this.#file(e, full)
        return
      case 'symlink':
        symlinkSync(e.target ?? '', full)
        this.counts.symlinks++
        break
      case 'chardev': P.mknod(full, S_IFCHR | 0o600, e.devMajor ?? 0, e.devMinor ?? 0); this.counts.specials++; break
      case 'blockdev': P.mknod(full, S_IFBLK | 0o600, e.devMajor ?? 0, e.devMinor ?? 0); this.counts.specials++; break
      case 'fifo': P.mknod(full, S_IFIFO | 0o600, 0, 0); this.counts.specials++; break
      case 'socket': P.mknod(full, S_IFSOCK | 0o600, 0, 0); this.counts.specials++; break
      case 'whiteout': P.mknod(full, S_IFCHR | 0o600, 0, 0); this.counts.specials++; return
    }
    this.#meta(full, e)
  }

  /** Content, then the metadata through the open descriptor (no path lookups), like tar -x. */
  async #file (e: Entry, full: string): Promise<void> {
    const fd = openSync(full, 'wx', 0o600)
    try {
      for await (const chunk of this.#tree.readFile(e)) {
        let off = 0
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off)
        this.counts.bytes += chunk.length
        this.#options.onBytes?.(chunk.length)
      }
      try {
        fchownSync(fd, e.uid, e.gid)
      } catch (err) {
        if (IS_ROOT || (err as { code?: string }).code !== 'EPERM') throw err
      }
      if (e.xattrs !== undefined) for (const [k, v] of Object.entries(e.xattrs)) this.#posix.lsetxattr(full, k, v)
      fchmodSync(fd, e.mode)
      this.#posix.futimens(fd, e.mtimeNs, e.mtimeNs)
    } finally {
      closeSync(fd)
    }
    this.counts.files++
  }

  /** Owner, then xattrs (chown clears security.capability), then mode (chown clears setuid), then mtime. */
  #meta (path: string, e: Entry): void {
    try {
      lchownSync(path, e.uid, e.gid)
    } catch (err) {
      if (IS_ROOT || (err as { code?: string }).code !== 'EPERM') throw err
    }
    if (e.xattrs !== undefined) for (const [k, v] of Object.entries(e.xattrs)) this.#posix.lsetxattr(path, k, v)
    if (e.kind !== 'symlink') chmodSync(path, e.mode)
    this.#posix.utimens(path, e.mtimeNs, e.mtimeNs)
  }
}
