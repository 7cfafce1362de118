import { statSync, type BigIntStats } from 'node:fs'
import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '../cas/interface.js'
import { encodeTreeRoot } from './codec.js'
import { writeDir } from './dir-write.js'
import { ImportError } from './errors.js'
import type { FileContent } from './file-write.js'
import { draftFromScan, draftFromStat, plainXattrs, type EntryDraft } from './import-meta.js'
import { resolveSource } from './import-measure.js'
import { batching } from './ingest/batch-sink.js'
import { IngestPool, type IngestSink } from './ingest/pool.js'
import { takePrestartedWalk } from './ingest/prestart-walk.js'
import type { Entry } from './interface.js'
import { posix, SCAN, SCAN_FIELDS, type DirListing, type ScanResult } from './posix.js'

export { measureTree } from './import-measure.js'

export interface ImportOptions extends AbortOptions {
  /** Ingest worker threads (default 2). */
  readonly workers?: number
  /** zstd level for stored chunks (default 1). */
  readonly level?: number
  /** Progress: content bytes stored so far (called often; keep it cheap). */
  readonly onBytes?: (n: number) => void
  /** Skip compressing what the sink already holds (see IngestPoolOptions.probe): for re-imports. */
  readonly probe?: boolean
  /** Files from this size on are spread over all workers (IngestPoolOptions; default 64 MiB). */
  readonly bigFileBytes?: number
}

/** What an import produced: the tree root and counts of what it holds. */
export interface ImportResult {
  readonly root: CID
  readonly files: number
  readonly dirs: number
  readonly symlinks: number
  readonly specials: number
  readonly hardlinks: number
  /** Content bytes of regular files (each hard-linked inode once). */
  readonly bytes: number
  /** Content chunks stored (with repeats). */
  readonly chunks: number
  /** Records the workers produced for new chunks (frames of several chunks, or one chunk alone). */
  readonly frames?: number
  /** Chunks written inside a frame although the store already held them (dead bytes). */
  readonly duplicateChunks?: number
}

/** Directories the walk builds before it lets the threads' results in (the event loop). */
const DIRS_PER_TURN = 8

interface LinkGroup {
  readonly leader: string
  count: number
  readonly content: Promise<FileContent>
  readonly multi: Promise<boolean>
  settle: (multi: boolean) => void
}

/**
 * Imports the directory tree at `dir` into `sink` and returns the root CID of a tree root
 * node, with every piece of metadata (see Entry). Deterministic: the same tree gives the same
 * root on every machine. Files are read, chunked, hashed and compressed on worker threads
 * while this thread walks in depth-first name order and writes nodes bottom-up as soon as a
 * directory's contents are stored. Rejects ImportError for unreadable entries, unsupported
 * file types or names that are not valid UTF-8. `dir` may be a symlink to the directory.
 * Blocks are written as the import goes and are reachable from nothing until the caller pins
 * the root: hold a write lease (LocalStore.beginWrite) across the import and the pin, so a
 * concurrent GC leaves them alone.
 */
export async function importDirectory (dir: string, sink: IngestSink, options: ImportOptions = {}): Promise<ImportResult> {
  // The source itself may be a symlink to the directory (like `tar -C LINK .`); nothing below it is followed.
  const root = resolveSource(dir)
  const st = stat(root)
  if (!st.isDirectory()) throw new ImportError(`not a directory: ${root}`)
  const nodes = batching(sink)
  // Native ingest threads and their walker (started early by the CLI when it could: ingest/prestart-walk.ts).
  const pool = new IngestPool(sink, {
    workers: options.workers, level: options.level, onBytes: options.onBytes, probe: options.probe, bigFileBytes: options.bigFileBytes,
    nodeSink: nodes.sink, native: true, group: takePrestartedWalk(root)
  })
  try {
    pool.walk(root)
    const result = await new DirImport(pool, nodes.sink, options).run(root, st)
    await nodes.flush()
    return result
  } finally {
    await pool.close()
  }
}

class DirImport {
  readonly #pool: IngestPool
  readonly #sink: IngestSink
  readonly #signal: AbortSignal | undefined
  readonly #links = new Map<string, LinkGroup>()
  readonly #posix = posix()
  readonly counts = { files: 0, dirs: 0, symlinks: 0, specials: 0, hardlinks: 0 }
  #turn = 0

  constructor (pool: IngestPool, sink: IngestSink, options: ImportOptions) {
    this.#pool = pool
    this.#sink = sink
    this.#signal = options.signal
  }

  async run (dir: string, st: BigIntStats): Promise<ImportResult> {
    const done = await this.#walk(dir, '', this.#draft('', st, dir))
    for (const g of this.#links.values()) if (g.count === 1) g.settle(false)
    const rootEntry = await done.entry
    await this.#pool.checkSeen()
    const block = encodeTreeRoot(rootEntry)
    await this.#sink.put(block.cid, block.bytes)
    const c = this.#pool.counters
    return { root: block.cid, ...this.counts, bytes: c.bytes, chunks: c.chunks, frames: c.frames, duplicateChunks: c.duplicateChunks }
  }

  #draft (name: string, st: BigIntStats, path: string): EntryDraft {
    const e = draftFromStat(name, st, path)
    const x = plainXattrs(this.#posix.lxattrs(path))
    if (x !== undefined) e.xattrs = x
    return e
  }

  /**
   * Walks one directory: takes its listing from the native walker (children in name order,
   * their files already queued), claims its files, recurses into subdirectories (the walk
   * itself, not their completion). Resolves once the walk of this subtree is done, with a
   * promise of the directory's finished Entry.
   */
  async #walk (path: string, rel: string, draft: EntryDraft): Promise<{ entry: Promise<Entry> }> {
    this.#signal?.throwIfAborted()
    this.counts.dirs++
    const scan = await this.#scan(path)
    const { names, stats, ids } = scan
    const children: Array<Entry | Promise<Entry>> = []
    for (let i = 0; i < names.length; i++) {
      const name = names[i]
      const full = path + '/' + name
      const childRel = rel === '' ? name : `${rel}/${name}`
      const e = draftFromScan(name, stats, i, full)
      const x = scan.xattrs[i]
      if (x !== null) e.xattrs = plainXattrs(x)
      if (e.kind === 'dir') {
        children.push((await this.#walk(full, childRel, e)).entry)
      } else if (e.kind === 'file') {
        children.push(this.#file(full, childRel, stats, i, ids[i], e))
      } else {
        if (e.kind === 'symlink') {
          e.target = scan.targets[i] ?? ''
          e.size = Buffer.byteLength(e.target)
          this.counts.symlinks++
        } else {
          this.counts.specials++
        }
        children.push(e)
      }
    }
    // Let results (they return the threads' credit), progress and aborts in every few
    // directories: listings the walker posted ahead would otherwise all be taken first.
    if (++this.#turn % DIRS_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve))
    const entry = Promise.all(children).then(async (entries) => {
      draft.cid = await writeDir(entries, this.#sink)
      return draft as Entry
    })
    entry.catch(() => {})
    return { entry }
  }

  async #scan (path: string): Promise<ScanResult & { ids: Float64Array }> {
    const listing: DirListing = await this.#pool.nextListing()
    if (listing.path !== path) throw new Error(`import walk out of step: listing of ${listing.path}, expected ${path}`)
    if (listing.error === undefined) return listing
    const e = Object.assign(new Error(listing.error.message), listing.error)
    if (e.code === 'EILSEQ') throw new ImportError(`file name is not valid UTF-8: ${e.path ?? path}`)
    throw new ImportError(`cannot read directory ${path}`, { cause: e })
  }

  /** The content of a file: the walker queued it (`id` > 0) or the pool splits it (large). */
  #content (full: string, id: number, size: number): Promise<FileContent> {
    return id > 0 ? this.#pool.expect(id, full) : this.#pool.submit(full, size)
  }

  #file (full: string, rel: string, stats: Float64Array, i: number, id: number, e: EntryDraft): Promise<Entry> {
    this.counts.files++
    const b = i * SCAN_FIELDS
    const size = stats[b + SCAN.SIZE]
    const entry = stats[b + SCAN.NLINK] <= 1
      ? this.#content(full, id, size).then((c) => withContent(e, c))
      : this.#linked(full, rel, `${stats[b + SCAN.DEV_HI]}:${stats[b + SCAN.DEV_LO]}:${stats[b + SCAN.INO_HI]}:${stats[b + SCAN.INO_LO]}`, id, size, e)
    entry.catch(() => {}) // observed later by Promise.all; never an unhandled rejection
    return entry
  }

  #linked (full: string, rel: string, key: string, id: number, size: number, e: EntryDraft): Promise<Entry> {
    let g = this.#links.get(key)
    if (g === undefined) {
      let settle: (multi: boolean) => void = () => {}
      const multi = new Promise<boolean>((resolve) => { settle = resolve })
      g = { leader: rel, count: 0, content: this.#content(full, id, size), multi, settle }
      g.content.catch(() => {})
      this.#links.set(key, g)
    } else {
      this.counts.hardlinks++
    }
    if (++g.count === 2) g.settle(true)
    const group = g
    return Promise.all([group.content, group.multi]).then(([c, multi]) => {
      const out = withContent(e, c)
      if (multi) out.hardlink = group.leader
      return out
    })
  }
}

function withContent (e: EntryDraft, c: FileContent): EntryDraft {
  e.size = c.size
  if (c.cid !== undefined) e.cid = c.cid
  return e
}

function stat (path: string): BigIntStats {
  try {
    return statSync(path, { bigint: true })
  } catch (err) {
    throw new ImportError(`cannot stat ${path}`, { cause: err })
  }
}
