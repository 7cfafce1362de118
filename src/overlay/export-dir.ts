import { chmodSync, closeSync, existsSync, fchmodSync, fchownSync, lchownSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, symlinkSync, write, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { AbortOptions, ChunkReader } from '../cas/interface.js'
import { ONE_PASS_CACHE_BYTES } from './block-cache.js'
import { ExportError } from './errors.js'
import type { Entry } from './interface.js'
import { posix, S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK } from './posix.js'
import { resolvePath } from './posix-resolve.js'
import { openTree, type Tree } from './tree.js'

export interface ExportOptions extends AbortOptions {
  /** Export only the directory at this tree path (default '/': the whole tree). */
  readonly path?: string
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
/** Regular files exported at once (their store reads overlap). */
const FILES_IN_FLIGHT = 8
/** Files from this size on are written from the thread pool, overlapping the store reads. */
const ASYNC_WRITE_BYTES = 4 * 1024 * 1024
/** The longest the export runs without letting the event loop turn (see #letLoopRun). */
const LOOP_TURN_MS = 20
/** Chunk writes of one large file in flight. */
const WRITES_IN_FLIGHT = 4

/** Writes all of `chunk` at `position` of `fd` (from the thread pool). */
async function writeAt (fd: number, chunk: Uint8Array, position: number): Promise<void> {
  let off = 0
  while (off < chunk.length) {
    off += await new Promise<number>((resolve, reject) => {
      write(fd, chunk, off, chunk.length - off, position + off, (err, n) => { if (err !== null) reject(err); else resolve(n) })
    })
  }
}

/**
 * Writes the tree `root` of `reader` (or its directory `options.path`) into directory `dest`
 * (created if absent; it must be empty), with every piece of metadata: owner (lchown; skipped without privilege), mode
 * bits including setuid/setgid/sticky (set after chown, which clears them), xattrs,
 * nanosecond mtimes (utimensat, after contents for directories), hard links, devices, fifos
 * and sockets. Whiteouts become 0/0 character devices (the overlayfs convention). Rejects
 * OVERLAY_EXPORT_FAILED when `dest` is not an empty directory or a node cannot be created,
 * CAS_CHUNK_MISSING/OVERLAY_BAD_NODE for a broken tree.
 */
export async function exportDirectory (reader: ChunkReader, root: CID, dest: string, options: ExportOptions = {}): Promise<ExportResult> {
  const tree = openTree(reader, root, { cacheBytes: ONE_PASS_CACHE_BYTES })
  const top = await subtree(tree, options.path)
  prepareDest(dest)
  const job = new DirExport(tree, options)
  await job.dir(top, dest)
  return job.counts
}

/** The directory entry at `path` (symlinks followed, as in a chroot), the root by default. */
export async function subtree (tree: Tree, path = '/'): Promise<Entry> {
  const { entry, path: at } = await resolvePath(tree, path)
  if (entry.kind !== 'dir') throw new ExportError(`not a directory: ${at}`)
  return entry
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
  readonly #options: ExportOptions
  readonly #posix = posix()
  /**
   * Hard-link groups by their leader's tree path: where the first member inside the export
   * went (the leader itself, or the first member below the exported directory) and when it
   * is complete. Later members link to it.
   */
  readonly #leaders = new Map<string, { local: string, done: Promise<void> }>()
  readonly #waiters: Array<() => void> = []
  #inFlight = 0
  #lastTurn = performance.now()

  constructor (tree: Tree, options: ExportOptions) {
    this.#tree = tree; this.#options = options
  }

  /**
   * Writes the contents of directory `entry` into existing directory `path`, then its
   * metadata. Regular files are written up to FILES_IN_FLIGHT at a time (reads from the store
   * and file creation overlap); a directory's metadata waits for all of its files.
   */
  async dir (entry: Entry, path: string): Promise<void> {
    this.#options.signal?.throwIfAborted()
    this.counts.dirs++
    const files = new Outstanding()
    try {
      for await (const child of this.#tree.readdir(entry)) {
        await this.#letLoopRun()
        const full = join(path, child.name)
        if (child.kind === 'file' && (child.hardlink === undefined || !this.#leaders.has(child.hardlink))) {
          await this.#slot()
          const done = this.#guard(this.#file(child, full), full).finally(() => { this.#inFlight--; this.#wake() })
          done.catch(() => {})
          if (child.hardlink !== undefined) this.#leaders.set(child.hardlink, { local: full, done })
          files.track(done)
        } else {
          await this.#guard(this.#child(child, full), full)
        }
      }
    } finally {
      await files.settled()
    }
    files.throwIfFailed()
    this.#meta(path, entry)
  }

  async #guard (work: Promise<void>, full: string): Promise<void> {
    try {
      await work
    } catch (err) {
      if (err instanceof ExportError || (err as { code?: string }).code?.startsWith('CAS_') === true) throw err
      if (this.#options.signal?.aborted === true) throw this.#options.signal.reason
      throw new ExportError(`cannot create ${full}`, { cause: err })
    }
  }

  async #slot (): Promise<void> {
    while (this.#inFlight >= FILES_IN_FLIGHT) await new Promise<void>((resolve) => { this.#waiters.push(resolve) })
    this.#inFlight++
  }

  /**
   * Store reads are synchronous (a LevelDB get, a pread), so an export of small files runs
   * as one long chain of microtasks: without a turn of the event loop now and then, no timer
   * (the progress bar, malloc_trim) and no signal handler (Ctrl-C) would run until it ends.
   */
  async #letLoopRun (): Promise<void> {
    const now = performance.now()
    if (now - this.#lastTurn < LOOP_TURN_MS) return
    await new Promise<void>((resolve) => setImmediate(resolve))
    this.#lastTurn = performance.now()
  }

  #wake (): void {
    const w = this.#waiters.shift()
    if (w !== undefined) w()
  }

  async #child (e: Entry, full: string): Promise<void> {
    const P = this.#posix
    switch (e.kind) {
      case 'dir':
        mkdirSync(full, 0o700)
        await this.dir(e, full)
        return
      case 'file': {
        // Only later members of a hard-link group come here: the first one is already out.
        const first = this.#leaders.get(e.hardlink!)!
        await first.done
        linkSync(first.local, full)
        this.counts.hardlinks++
        return
      }
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

  /**
   * Content, then the metadata through the open descriptor (no path lookups), like tar -x.
   * The file is created on this thread: created from the thread pool, up to FILES_IN_FLIGHT
   * at once, the creations in one directory contended for its lock in the kernel (50,000
   * small files: 47.6 s, 46 s of it system time; now 18 s, like cp -a). A small file is
   * written here too; a large one from the thread pool, WRITES_IN_FLIGHT chunks at a time,
   * while this thread reads, decompresses and checks the next (5 GiB: 42.8 -> 30.9 s; cp 21.7 s).
   */
  async #file (e: Entry, full: string): Promise<void> {
    const fd = openSync(full, 'wx', 0o600)
    const writes = new Set<Promise<void>>()
    try {
      let at = 0
      for await (const chunk of this.#tree.readFile(e)) {
        if (e.size < ASYNC_WRITE_BYTES) {
          let off = 0
          while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off)
        } else {
          const w = writeAt(fd, chunk, at)
          writes.add(w)
          void w.then(() => writes.delete(w), () => {})
          if (writes.size >= WRITES_IN_FLIGHT) await Promise.race(writes)
        }
        at += chunk.length
        this.counts.bytes += chunk.length
        this.#options.onBytes?.(chunk.length)
      }
      await Promise.all(writes)
      try {
        fchownSync(fd, e.uid, e.gid)
      } catch (err) {
        if (IS_ROOT || (err as { code?: string }).code !== 'EPERM') throw err
      }
      if (e.xattrs !== undefined) for (const [k, v] of Object.entries(e.xattrs)) this.#posix.lsetxattr(full, k, v)
      fchmodSync(fd, e.mode)
      this.#posix.futimens(fd, e.mtimeNs, e.mtimeNs)
    } finally {
      await Promise.allSettled(writes) // never close under a write in flight
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

/**
 * The files of one directory still being written, counted (a directory of 50,000 files keeps
 * no promise per file), and the first failure among them.
 */
class Outstanding {
  #left = 0
  #failure: { error: unknown } | undefined
  #wake: (() => void) | undefined
  readonly #one = (): void => { if (--this.#left === 0) this.#wake?.() }
  readonly #failed = (error: unknown): void => { this.#failure ??= { error }; this.#one() }

  track (p: Promise<void>): void {
    this.#left++
    p.then(this.#one, this.#failed)
  }

  /** Resolves once every tracked file is done, failed or not. */
  async settled (): Promise<void> {
    while (this.#left > 0) await new Promise<void>((resolve) => { this.#wake = resolve })
  }

  throwIfFailed (): void { if (this.#failure !== undefined) throw this.#failure.error }
}
