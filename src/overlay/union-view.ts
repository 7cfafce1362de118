import type { ChunkReader } from '../cas/interface.js'
import { commitLayer, type CommitResult } from './commit.js'
import type { BlockSink } from './file-write.js'
import { createObject, linkObject, rmdirObject, setattrObject, unlinkObject, writeObject } from './cow-ops.js'
import { renameObject } from './cow-rename.js'
import type { MutationCtx } from './cow.js'
import { CrossLayerError, InvalidOperationError, IsDirError, NotFoundError, ReadOnlyError } from './errors.js'
import type { Entry } from './interface.js'
import { InodeTable, type InodeRef } from './inodes.js'
import { createMemoryKv, decodeJson, KvTxn, type Kv } from './kv.js'
import type { Resolved, Source, UnionLayer } from './layer.js'
import { joinPath, splitPath } from './path.js'
import { Tree } from './tree.js'
import { Union, type DirHook } from './union.js'
import { isUpperEntry, nowNs } from './upper-node.js'
import { attrsOf, inoKeyOf } from './view-attrs.js'
import type { Attrs, CreateAttrs, FileContent, Ino, SetAttrs, ViewDirEntry, WriteView } from './view.js'
import { UpperLayer, type WritableLayer } from './writable.js'

export interface ViewOptions {
  /** Immutable layers, top first, below the writable layer (if any). */
  readonly lowers: readonly UnionLayer[]
  /** Where lower content and trees are read from (also the writable layer's copied-up files). */
  readonly store: ChunkReader
  /** The writable layer on top; without it the view is read-only. */
  readonly writable?: WritableLayer
  /**
   * Inode table of a read-only view (default: in memory, inos stable for this process only).
   * For stable NFS handles give `cacheKv(await openLevelKv(stateDir))`, used by this view alone.
   */
  readonly state?: Kv
  /** Called on every resolved directory, e.g. `.mount` handling (mount.ts). */
  readonly onDir?: DirHook<UpperLayer>
}

const READDIR_PAGE = 256

/**
 * The union of a layer stack as a file system (WriteView; overlay/view.ts has the contract).
 * Mutations and inode assignment are serialised by one lock; each mutation is one atomic
 * batch of the writable layer's Kv.
 */
export class UnionView implements WriteView {
  readonly readOnly: boolean
  readonly #opts: ViewOptions
  readonly #kv: Kv
  readonly #inodes: InodeTable
  #lock: Promise<unknown> = Promise.resolve()

  private constructor (opts: ViewOptions, kv: Kv, inodes: InodeTable) {
    this.#opts = opts
    this.#kv = kv
    this.#inodes = inodes
    this.readOnly = opts.writable === undefined && opts.onDir === undefined
  }

  static async open (opts: ViewOptions): Promise<UnionView> {
    const kv = opts.writable?.kv ?? opts.state ?? createMemoryKv()
    return new UnionView(opts, kv, await InodeTable.open(kv))
  }

  #union (upper?: UpperLayer, bindings?: ReadonlyMap<unknown, UpperLayer>): Union<UpperLayer> {
    const top = upper ?? (this.#opts.writable !== undefined ? new UpperLayer(this.#kv, this.#opts.store) : undefined)
    return new Union<UpperLayer>(top !== undefined ? [top, ...this.#opts.lowers] : this.#opts.lowers,
      { upper: top, onDir: this.#opts.onDir, bindings })
  }

  async #locked<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn)
    this.#lock = run.catch(() => {})
    return await run
  }

  /**
   * Attributes of visible entries (`path` is the entry's union path), assigning lower inos in
   * one batch. Inos the table holds in memory are taken synchronously (READDIRPLUS asks for
   * every entry of a page); only the others are read, and only new ones assigned under the lock.
   */
  async #attrs (items: ReadonlyArray<{ path: string, entry: Entry }>): Promise<Attrs[]> {
    const inos = new Array<number>(items.length).fill(1)
    const missing: Array<{ key: string, path: string, ref?: InodeRef }> = []
    const missingAt: number[] = []
    for (let i = 0; i < items.length; i++) {
      const { path, entry } = items[i]
      if (isUpperEntry(entry) && entry.upper.owner === this.#kv) { inos[i] = entry.upper.ino; continue }
      if (path === '/') continue
      const k = inoKeyOf(entry, path, this.#seeForeign)
      const ino = this.#inodes.cached(k.key)
      if (ino !== undefined) { inos[i] = ino; continue }
      missing.push(k)
      missingAt.push(i)
    }
    if (missing.length > 0) {
      if (missing.length > 1) await this.#kv.prefetch?.(missing.map((k) => k.key))
      let found = await Promise.all(missing.map(async (k) => await this.#inodes.peek(k.key)))
      if (found.some((i) => i === undefined)) found = await this.#locked(async () => await this.#inodes.assign(missing))
      for (let k = 0; k < missingAt.length; k++) inos[missingAt[k]] = found[k] ?? 1
    }
    return items.map(({ entry }, i) => attrsOf(entry, inos[i]))
  }

  readonly #seeForeign = (id: string, kv: Kv): void => { this.#foreign.set(id, kv) }

  async #resolve (path: string): Promise<Resolved<UpperLayer> | undefined> {
    return await this.#union().resolve(splitPath(path))
  }

  async stat (path: string): Promise<Attrs | undefined> {
    const r = await this.#resolve(path)
    return r === undefined ? undefined : (await this.#attrs([{ path: joinPath(r.names), entry: r.entry }]))[0]
  }

  async statRequired (path: string): Promise<Attrs> {
    const a = await this.stat(path)
    if (a === undefined) throw new NotFoundError(path)
    return a
  }

  readonly #foreign = new Map<string, Kv>()

  async pathOf (ino: Ino): Promise<string | undefined> {
    if (ino === 1n) return '/'
    const at = await this.#inodes.pathOf(Number(ino))
    if (at === undefined || typeof at === 'string') return at
    const kv = this.#foreign.get(at.m)
    if (kv === undefined) return at.p
    const raw = await kv.get(`i:${at.n}`)
    if (raw === undefined) return at.p
    const rel = decodeJson<string>(raw)
    return at.at === '/' ? rel : rel === '/' ? at.at : at.at + rel
  }

  async * readdir (path: string, after?: string): AsyncIterable<ViewDirEntry> {
    const r = await this.#resolve(path)
    if (r === undefined) throw new NotFoundError(path)
    let page: Source[] = []
    const base = r.names.length === 0 ? '' : joinPath(r.names)
    const flush = async function * (this: UnionView): AsyncIterable<ViewDirEntry> {
      const attrs = await this.#attrs(page.map((s) => ({ path: `${base}/${s.entry.name}`, entry: s.entry })))
      for (let i = 0; i < page.length; i++) yield { name: page[i].entry.name, attrs: attrs[i] }
      page = []
    }
    for await (const s of this.#union().readdir(r, after)) {
      page.push(s)
      if (page.length >= READDIR_PAGE) yield * flush.call(this)
    }
    yield * flush.call(this)
  }

  /**
   * Up to `limit` entries of directory `path` after `after`, with attributes, as one array: the
   * same entries `readdir` yields, without an async step per entry (NFS READDIRPLUS lists a
   * page per call). A directory of one immutable layer is read straight from its nodes.
   */
  async readdirPage (path: string, after: string | undefined, limit: number): Promise<ViewDirEntry[]> {
    const r = await this.#resolve(path)
    if (r === undefined) throw new NotFoundError(path)
    const entries: Entry[] = []
    const only = r.sources.length === 1 ? r.sources[0] : undefined
    if (r.entry.kind === 'dir' && only?.layer instanceof Tree && only.entry.kind === 'dir' && only.entry.cid !== undefined) {
      await only.layer.dirs.page(only.entry.cid, after, limit, entries)
    } else {
      for await (const s of this.#union().readdir(r, after)) {
        if (entries.length >= limit) break
        entries.push(s.entry)
      }
    }
    const base = r.names.length === 0 ? '' : joinPath(r.names)
    const attrs = await this.#attrs(entries.map((entry) => ({ path: `${base}/${entry.name}`, entry })))
    return entries.map((entry, i) => ({ name: entry.name, attrs: attrs[i] }))
  }

  async readlink (path: string): Promise<string> {
    const r = await this.#resolve(path)
    if (r === undefined) throw new NotFoundError(path)
    if (r.entry.kind !== 'symlink' || r.entry.target === undefined) throw new InvalidOperationError(`not a symlink: ${path}`)
    return r.entry.target
  }

  async read (path: string, offset: number, length: number): Promise<Uint8Array> {
    const r = await this.#resolve(path)
    if (r === undefined) throw new NotFoundError(path)
    if (r.entry.kind === 'dir') throw new IsDirError(path)
    if (r.entry.kind !== 'file') return new Uint8Array(0)
    return await r.sources[0].layer.read(r.entry, offset, length)
  }

  /** `read` without a copy: an immutable tree's file comes as views of its cached chunks. */
  async readSlices (path: string, offset: number, length: number): Promise<Uint8Array[]> {
    const r = await this.#resolve(path)
    if (r === undefined) throw new NotFoundError(path)
    if (r.entry.kind === 'dir') throw new IsDirError(path)
    if (r.entry.kind !== 'file') return []
    const layer = r.sources[0].layer
    if (layer instanceof Tree) return await layer.files.slices(r.entry.cid, r.entry.size, offset, length)
    const bytes = await layer.read(r.entry, offset, length)
    return bytes.length === 0 ? [] : [bytes]
  }

  async fileContent (path: string): Promise<FileContent | undefined> {
    const r = await this.#resolve(path)
    if (r === undefined || r.entry.kind !== 'file') return undefined
    const layer = r.sources[0].layer
    if (!(layer instanceof Tree)) return undefined
    const { cid, size } = r.entry
    const files = layer.files
    return {
      size,
      now: (offset, length) => files.slicesNow(cid, size, offset, length),
      slices: async (offset, length) => await files.slices(cid, size, offset, length)
    }
  }

  /**
   * The Kv of the writable layer that takes writes at `paths` (all of them: the view's own, or
   * that of a `.mount` above them). OVERLAY_READ_ONLY where none does, OVERLAY_CROSS_LAYER
   * when they differ.
   */
  async #targetKv (paths: readonly string[]): Promise<Kv> {
    let found: Kv | undefined
    for (const path of paths) {
      const names = splitPath(path)
      const chain = await this.#union().chain(names.slice(0, -1))
      const layer = chain[chain.length - 1].upper?.layer
      if (layer === undefined) throw new ReadOnlyError(path)
      const kv = layer.kv as Kv
      if (found !== undefined && found !== kv) throw new CrossLayerError(paths[0], path)
      found = kv
    }
    if (found === undefined) throw new TypeError('no path')
    return found
  }

  /** Runs one mutation of `paths` in a transaction of their writable layer; resolves the attrs of `result`. */
  async #mutate (paths: readonly string[], result: string | undefined, fn: (ctx: MutationCtx) => Promise<void>): Promise<Attrs> {
    if (this.#opts.writable === undefined && this.#opts.onDir === undefined) throw new ReadOnlyError(paths[0])
    await this.#locked(async () => {
      const kv = await this.#targetKv(paths)
      const own = kv === this.#kv
      const txn = new KvTxn(kv)
      const upper = new UpperLayer(txn, this.#opts.store)
      const union = own ? this.#union(upper) : this.#union(undefined, new Map([[kv, upper]]))
      const inodes = own ? this.#inodes : await this.#mountInodes(kv)
      const ctx: MutationCtx = { txn, upper, union, inodes, store: this.#opts.store, now: nowNs() }
      await fn(ctx)
      await txn.commit()
      this.#dirty.add(kv)
    })
    return result === undefined ? await this.statRequired('/') : await this.statRequired(result)
  }

  readonly #mountTables = new Map<Kv, Promise<InodeTable>>()
  /** Node numbers inside a `.mount` writable layer (the view shows path-keyed inos for them). */
  async #mountInodes (kv: Kv): Promise<InodeTable> {
    let t = this.#mountTables.get(kv)
    if (t === undefined) { t = InodeTable.open(kv); this.#mountTables.set(kv, t) }
    return await t
  }

  async create (path: string, attrs: CreateAttrs = {}): Promise<Attrs> {
    return await this.#mutate([path], path, async (ctx) => { await createObject(ctx, path, 'file', attrs) })
  }

  async mkdir (path: string, attrs: CreateAttrs = {}): Promise<Attrs> {
    return await this.#mutate([path], path, async (ctx) => { await createObject(ctx, path, 'dir', attrs) })
  }

  async symlink (path: string, target: string, attrs: CreateAttrs = {}): Promise<Attrs> {
    return await this.#mutate([path], path, async (ctx) => {
      await createObject(ctx, path, 'symlink', attrs, { l: target, z: Buffer.byteLength(target) })
    })
  }

  async mknod (path: string, kind: 'chardev' | 'blockdev' | 'fifo' | 'socket', dev: { major: number, minor: number },
    attrs: CreateAttrs = {}): Promise<Attrs> {
    const extra = kind === 'chardev' || kind === 'blockdev' ? { r: [dev.major, dev.minor] as [number, number] } : {}
    return await this.#mutate([path], path, async (ctx) => { await createObject(ctx, path, kind, attrs, extra) })
  }

  async link (existing: string, path: string): Promise<Attrs> {
    return await this.#mutate([existing, path], path, async (ctx) => { await linkObject(ctx, existing, path) })
  }

  async write (path: string, offset: number, data: Uint8Array): Promise<Attrs> {
    return await this.#mutate([path], path, async (ctx) => { await writeObject(ctx, path, offset, data) })
  }

  async setattr (path: string, set: SetAttrs): Promise<Attrs> {
    return await this.#mutate([path], path, async (ctx) => { await setattrObject(ctx, path, set) })
  }

  async unlink (path: string): Promise<void> {
    await this.#mutate([path], '/', async (ctx) => { await unlinkObject(ctx, path) })
  }

  async rmdir (path: string): Promise<void> {
    await this.#mutate([path], '/', async (ctx) => { await rmdirObject(ctx, path) })
  }

  async rename (from: string, to: string): Promise<void> {
    await this.#mutate([from, to], '/', async (ctx) => { await renameObject(ctx, from, to) })
  }

  readonly #dirty = new Set<Kv>()

  /**
   * Commits the view's own writable layer as an immutable overlay (commit.ts) into `sink`
   * (default: the store, which must then be writable), as one consistent snapshot: writes
   * wait until it is done. The layer is left as it is.
   */
  async commit (sink?: BlockSink): Promise<CommitResult> {
    const w = this.#opts.writable
    if (w === undefined) throw new ReadOnlyError('/')
    const target = sink ?? (this.#opts.store as unknown as BlockSink)
    if (typeof target.put !== 'function') throw new TypeError('commit needs a sink or a writable store')
    const top = this.#opts.lowers[0]
    return await this.#locked(async () => await commitLayer(this.#kv, this.#opts.store, target, {
      rootFallback: top !== undefined ? await top.rootEntry() : undefined
    }))
  }

  async sync (): Promise<void> {
    await this.#locked(async () => {
      for (const kv of new Set([this.#kv, ...this.#dirty])) await kv.batch([{ key: 'meta:sync', value: new Uint8Array(0) }], true)
      this.#dirty.clear()
    })
  }

  /** Closes the view (not the layers or the store, which the caller opened). */
  async close (): Promise<void> {
    await this.#locked(async () => { if (this.#opts.writable === undefined && this.#opts.state === undefined) await this.#kv.close() })
  }
}

/** Opens a view over `lowers` (top first), with `writable` on top if given. */
export async function openUnionView (opts: ViewOptions): Promise<UnionView> {
  return await UnionView.open(opts)
}
