import { statSync, type BigIntStats } from 'node:fs'
import type { CID } from 'multiformats/cid'
import { cidFromBytes } from '../cas/hasher.js'
import type { AbortOptions } from '../cas/interface.js'
import { encodeTreeRootFast } from './dir-write-encode.js'
import { ImportError } from './errors.js'
import type { FileContent } from './file-write.js'
import { MAX_DIR_ENTRIES } from './format.js'
import { draftFromScan, draftFromStat, kindOfMode, plainXattrs, type EntryDraft } from './import-meta.js'
import { resolveSource } from './import-measure.js'
import { batching } from './ingest/batch-sink.js'
import { IngestPool, type ClaimTarget, type IngestSink } from './ingest/pool.js'
import { takePrestartedWalk } from './ingest/prestart-walk.js'
import type { DirShard, Entry } from './interface.js'
import { posix, SCAN, SCAN_FIELDS, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type DirListing } from './posix.js'

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
 * root on every machine. A native walker thread lists directories in depth-first name order
 * and queues their files; native ingest threads read, chunk, hash and compress them and build
 * their index nodes; this thread stores the results and has each directory node written
 * (natively, from the walker's listing) as soon as its contents are stored, bottom-up. Rejects ImportError for unreadable entries, unsupported
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

/** A directory's listing from the native walker (not an error). */
type Listed = Extract<DirListing, { error?: undefined }>

/** Length of the binary CIDs listingEncode takes (CIDv1, one-byte codec, BLAKE3-256). */
const CID_BYTES = 36

class DirImport {
  readonly #pool: IngestPool
  readonly #sink: IngestSink
  readonly #signal: AbortSignal | undefined
  readonly #links = new Map<string, LinkGroup>()
  readonly #posix = posix()
  readonly counts = { files: 0, dirs: 0, symlinks: 0, specials: 0, hardlinks: 0 }
  #root = ''
  #turn = 0

  constructor (pool: IngestPool, sink: IngestSink, options: ImportOptions) {
    this.#pool = pool
    this.#sink = sink
    this.#signal = options.signal
  }

  async run (dir: string, st: BigIntStats): Promise<ImportResult> {
    this.#root = dir
    const root = this.#draft('', st, dir)
    const done = await this.#walk()
    for (const g of this.#links.values()) if (g.count === 1) g.settle(false)
    root.cid = await done.cid
    await this.#pool.checkSeen()
    const block = encodeTreeRootFast(root as Entry)
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
   * Walks the next directory of the native walker's order: claims its files (already queued),
   * recurses into its subdirectories (the walk itself, not their completion). Resolves once the
   * walk of this subtree is done, with a promise of the directory's CID, written once every
   * child is stored: by listingEncode from the native listing (no entry objects here, also
   * for a directory of 50,000 files), or by dir-write.ts for a `fallback` listing.
   */
  async #walk (): Promise<{ cid: Promise<CID> }> {
    this.#signal?.throwIfAborted()
    this.counts.dirs++
    const L = await this.#scan()
    if (L.fallback) return await this.#walkEntries(L)
    const { n, stats } = L
    const cids = new Uint8Array(n * CID_BYTES)
    const sizes = new Float64Array(n)
    const links: Array<string | undefined> = []
    const children = new Countdown()
    const files = new ListingFiles(children, cids, sizes)
    for (let i = 0; i < n; i++) {
      const b = i * SCAN_FIELDS
      const type = stats[b + SCAN.MODE] & S_IFMT
      if (type === S_IFDIR) {
        children.track((await this.#walk()).cid, (cid) => { cids.set(cid.bytes, i * CID_BYTES) })
      } else if (type === S_IFREG && stats[b + SCAN.NLINK] <= 1 && L.ids[i] > 0) {
        // The common case, one name and queued by the walker: no promise or closure per file.
        this.counts.files++
        children.add()
        this.#pool.claim(L.ids[i], files, i)
      } else if (type === S_IFREG) {
        this.#file(L, i, children, (content, leader) => {
          files.set(i, content)
          if (leader !== undefined) links[i] = leader
        })
      } else {
        this.#countOther(L, i)
      }
    }
    children.done() // every child is counted
    await this.#turnDone()
    const cid = children.settled.then(async () => await this.#writeListing(L, cids, sizes, links.length > 0 ? links : undefined))
    cid.catch(() => {})
    return { cid }
  }

  /**
   * Writes a listing's directory node natively (no entry objects here, whatever its size): one
   * node, or the shards of a large directory and the list of them (dir-write.ts, tree format v1).
   */
  async #writeListing (L: Listed, cids: Uint8Array, sizes: Float64Array, links: Array<string | undefined> | undefined): Promise<CID> {
    const put = async (start?: number, end?: number): Promise<CID> => {
      const out = this.#posix.listingEncode(L.handle, cids, sizes, links, start, end)
      const cid = cidFromBytes(out.subarray(0, CID_BYTES))
      await this.#sink.put(cid, out.subarray(CID_BYTES))
      return cid
    }
    if (L.n <= MAX_DIR_ENTRIES) return await put()
    const { writeShardList } = await loadDirWrite()
    const shards: DirShard[] = []
    let start = 0
    for (const end of this.#posix.listingGroups(L.handle)) {
      shards.push({ first: this.#posix.listingName(L.handle, start), cid: await put(start, end) })
      start = end
    }
    return await writeShardList(shards, this.#sink)
  }

  /** #walk for a `fallback` listing: entries built here, the node written by dir-write.ts. */
  async #walkEntries (L: Listed): Promise<{ cid: Promise<CID> }> {
    const scan = this.#posix.listingScan(L.handle)
    const { names, stats } = scan
    const entries: EntryDraft[] = []
    const children = new Countdown()
    for (let i = 0; i < names.length; i++) {
      const e = draftFromScan(names[i], stats, i, L.path + '/' + names[i])
      const x = scan.xattrs[i]
      if (x !== null) e.xattrs = plainXattrs(x)
      entries.push(e)
      if (e.kind === 'dir') {
        children.track((await this.#walk()).cid, (cid) => { e.cid = cid })
      } else if (e.kind === 'file') {
        this.#file(L, i, children, (content, leader) => {
          withContent(e, content)
          if (leader !== undefined) e.hardlink = leader
        })
      } else {
        if (e.kind === 'symlink') {
          e.target = scan.targets[i] ?? ''
          e.size = Buffer.byteLength(e.target)
        }
        this.#countOther(L, i)
      }
    }
    children.done() // every child is counted
    await this.#turnDone()
    const cid = children.settled.then(async () => await (await loadDirWrite()).writeDir(entries as Entry[], this.#sink))
    cid.catch(() => {})
    return { cid }
  }

  /** Counts a symlink or special entry; rejects ImportError for a type a tree cannot hold. */
  #countOther (L: Listed, i: number): void {
    const mode = L.stats[i * SCAN_FIELDS + SCAN.MODE]
    if ((mode & S_IFMT) === S_IFLNK) { this.counts.symlinks++; return }
    if (kindOfMode(mode) === undefined) throw new ImportError(`unsupported file type 0o${(mode & S_IFMT).toString(8)}: ${this.#pathOf(L, i)}`)
    this.counts.specials++
  }

  /**
   * Lets results (they return the threads' credit), progress and aborts in every few
   * directories: listings the walker posted ahead would otherwise all be taken first.
   */
  async #turnDone (): Promise<void> {
    if (++this.#turn % DIRS_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve))
  }

  async #scan (): Promise<Listed> {
    const listing: DirListing = await this.#pool.nextListing()
    if (listing.error === undefined) return listing
    const e = Object.assign(new Error(listing.error.message), listing.error)
    if (e.code === 'EILSEQ') throw new ImportError(`file name is not valid UTF-8: ${e.path}`)
    throw new ImportError(`cannot read directory ${listing.path}`, { cause: e })
  }

  /** Full path of entry `i` of a listing (names stay native until asked for: errors, hard links, large files). */
  #pathOf (L: Listed, i: number): string {
    return L.path + '/' + this.#posix.listingScan(L.handle).names[i]
  }

  /** Path of entry `i` relative to the import's root. */
  #relOf (L: Listed, i: number): string {
    return this.#pathOf(L, i).slice(this.#root.length + 1)
  }

  /**
   * Has `children` track regular file `i`: `use` gets its content and its hard-link leader
   * (relative path) when its inode has several names in the tree. The walker queued it
   * (ids[i] > 0), or the pool splits it (large files), or another name of its inode carries
   * it. No promise of its own per file: a directory of 50,000 files waits for all of them.
   */
  #file (L: Listed, i: number, children: Countdown, use: (content: FileContent, leader: string | undefined) => void): void {
    this.counts.files++
    const b = i * SCAN_FIELDS
    const s = L.stats
    if (s[b + SCAN.NLINK] <= 1) {
      children.track(this.#content(L, i), (c) => { use(c, undefined) })
      return
    }
    const key = `${s[b + SCAN.DEV_HI]}:${s[b + SCAN.DEV_LO]}:${s[b + SCAN.INO_HI]}:${s[b + SCAN.INO_LO]}`
    let g = this.#links.get(key)
    if (g === undefined) {
      let settle: (multi: boolean) => void = () => {}
      const multi = new Promise<boolean>((resolve) => { settle = resolve })
      g = { leader: this.#relOf(L, i), count: 0, content: this.#content(L, i), multi, settle }
      g.content.catch(() => {})
      this.#links.set(key, g)
    } else {
      this.counts.hardlinks++
    }
    if (++g.count === 2) g.settle(true)
    const group = g
    children.track(Promise.all([group.content, group.multi]), ([content, multi]) => { use(content, multi ? group.leader : undefined) })
  }

  #content (L: Listed, i: number): Promise<FileContent> {
    const id = L.ids[i]
    return id > 0 ? this.#pool.expect(id) : this.#pool.submit(this.#pathOf(L, i), L.stats[i * SCAN_FIELDS + SCAN.SIZE])
  }
}

/**
 * dir-write.ts (and with it codec.ts and @ipld/dag-cbor, ~25 ms of CPU to load) only for the
 * rare listings that need it: shard lists of directories past MAX_DIR_ENTRIES, and `fallback`
 * listings. Every other node is encoded natively or by dir-write-encode.ts.
 */
async function loadDirWrite (): Promise<typeof import('./dir-write.js')> { return await import('./dir-write.js') }

function withContent (e: EntryDraft, c: FileContent): void {
  e.size = c.size
  if (c.cid !== undefined) e.cid = c.cid
}

/** A native listing's regular files, as they are done: their CIDs and sizes for listingEncode. */
class ListingFiles implements ClaimTarget {
  readonly #children: Countdown
  readonly #cids: Uint8Array
  readonly #sizes: Float64Array
  constructor (children: Countdown, cids: Uint8Array, sizes: Float64Array) { this.#children = children; this.#cids = cids; this.#sizes = sizes }

  set (i: number, content: FileContent): void {
    this.#sizes[i] = content.size
    if (content.cid !== undefined) this.#cids.set(content.cid.bytes, i * CID_BYTES)
  }

  /** A claimed file is done (it was counted with children.add()). */
  content (i: number, content: FileContent): void {
    try { this.set(i, content) } catch (err) { this.#children.fail(err); return }
    this.#children.done()
  }

  fail (error: unknown): void { this.#children.fail(error) }
}

/**
 * Waits for a directory's children: `settled` resolves once every tracked promise was used and
 * done() was called (the walk has tracked them all), or rejects at the first failure.
 */
class Countdown {
  #left = 1
  #resolve: () => void = () => {}
  #reject: (err: unknown) => void = () => {}
  readonly settled = new Promise<void>((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
  readonly fail = (err: unknown): void => { this.#reject(err) }

  constructor () { this.settled.catch(() => {}) } // a failure may come before anyone waits

  /** Counts `p`, then hands its value to `use` (a failure of either settles this). */
  track<T> (p: Promise<T>, use: (value: T) => void): void {
    this.#left++
    p.then((value) => {
      try { use(value) } catch (err) { this.fail(err); return }
      this.done()
    }, this.fail)
  }

  /** Counts a child that will call done() or fail() itself. */
  add (): void { this.#left++ }

  done (): void { if (--this.#left === 0) this.#resolve() }
}

function stat (path: string): BigIntStats {
  try {
    return statSync(path, { bigint: true })
  } catch (err) {
    throw new ImportError(`cannot stat ${path}`, { cause: err })
  }
}
