import { compareNames } from './codec.js'
import { NotDirError } from './errors.js'
import type { Entry } from './interface.js'
import type { Resolved, Source, UnionLayer, UpperTarget } from './layer.js'
import { joinPath } from './path.js'

const EMPTY_ROOT: Entry = { name: '', kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: 0n, size: 0 }
/** A layer holding an empty root directory only. */
const EMPTY_LAYER: UnionLayer = {
  rootEntry: async () => EMPTY_ROOT,
  lookup: async () => undefined,
  readdir: async function * () {},
  read: async () => new Uint8Array(0)
}

/** Rewrites a resolved directory, e.g. to apply the `.mount` file it holds (mount.ts). */
export type DirHook<W> = (dir: Resolved<W>, union: Union<W>) => Promise<Resolved<W>>

export interface UnionOptions<W> {
  /** Where writes go: layers[0] as the writable layer object, or none for a read-only union. */
  upper?: W
  /** Called on every resolved directory (the root included). */
  onDir?: DirHook<W>
  /**
   * Layer objects to use instead of the ones a hook would make, keyed by what the hook keys
   * them by (mount.ts: a writable layer's Kv), e.g. to read a `.mount` writable layer through
   * the transaction of a mutation.
   */
  bindings?: ReadonlyMap<unknown, W>
}

/**
 * Path resolution over a stack of layers, top first (overlay/union semantics, DESIGN.md):
 * a lookup goes top-down and the first layer that has the name or a whiteout for it decides;
 * a directory merges the same directory of lower layers until one of them is opaque, or a
 * lower layer has a whiteout or a non-directory there. Pure reading: no inode numbers.
 */
export class Union<W = unknown> {
  readonly layers: readonly UnionLayer[]
  readonly #options: UnionOptions<W>

  constructor (layers: readonly UnionLayer[], options: UnionOptions<W> = {}) {
    if (layers.length === 0) throw new TypeError('a union needs at least one layer')
    this.layers = layers
    this.#options = options
  }

  /** The root directory. */
  async root (): Promise<Resolved<W>> {
    const sources: Source[] = []
    for (const layer of this.layers) {
      const entry = await layer.rootEntry()
      if (entry === undefined) continue
      sources.push({ layer, entry })
      if (entry.opaque === true) break
    }
    // Nothing written yet and no lower layer: an empty root directory.
    if (sources.length === 0) sources.push({ layer: EMPTY_LAYER, entry: EMPTY_ROOT })
    const upper = this.#options.upper !== undefined ? { layer: this.#options.upper, rel: [] } : undefined
    return await this.#dir({ names: [], entry: sources[0].entry, sources, upper, mountDepth: 0 })
  }

  /** True when directories go through an onDir hook (their content may differ from the layers'). */
  get hooked (): boolean { return this.#options.onDir !== undefined }

  /** The layer bound to `key` (UnionOptions.bindings), if any. */
  bound (key: unknown): W | undefined { return this.#options.bindings?.get(key) }

  async #dir (dir: Resolved<W>): Promise<Resolved<W>> {
    return this.#options.onDir !== undefined ? await this.#options.onDir(dir, this) : dir
  }

  /** The child `name` of directory `dir`, or undefined. OVERLAY_NOT_DIR if `dir` is not one. */
  async child (dir: Resolved<W>, name: string): Promise<Resolved<W> | undefined> {
    if (dir.entry.kind !== 'dir') throw new NotDirError(joinPath(dir.names))
    const merged: Source[] = []
    for (const s of dir.sources) {
      const entry = await s.layer.lookup(s.entry, name)
      if (entry === undefined) continue
      if (entry.kind === 'whiteout') break
      if (merged.length > 0 && entry.kind !== 'dir') break
      merged.push({ layer: s.layer, entry })
      if (entry.kind !== 'dir' || entry.opaque === true) break
    }
    if (merged.length === 0) return undefined
    const upper: UpperTarget<W> | undefined = dir.upper !== undefined ? { layer: dir.upper.layer, rel: [...dir.upper.rel, name] } : undefined
    const child: Resolved<W> = { names: [...dir.names, name], entry: merged[0].entry, sources: merged, upper, mountDepth: dir.mountDepth, mounted: dir.mounted }
    return child.entry.kind === 'dir' ? await this.#dir(child) : child
  }

  /**
   * The resolved root and every existing prefix of `names`: length names.length + 1 when the
   * whole path exists, shorter when a name is missing. OVERLAY_NOT_DIR if a non-final name is
   * not a directory.
   */
  async chain (names: readonly string[]): Promise<Array<Resolved<W>>> {
    const out = [await this.root()]
    for (const name of names) {
      const next = await this.child(out[out.length - 1], name)
      if (next === undefined) break
      out.push(next)
    }
    return out
  }

  /** The resolved path, or undefined. */
  async resolve (names: readonly string[]): Promise<Resolved<W> | undefined> {
    const chain = await this.chain(names)
    return chain.length === names.length + 1 ? chain[chain.length - 1] : undefined
  }

  /**
   * The visible children of directory `dir` in bytewise name order (after `after`), each as
   * the deciding layer's entry. A k-way merge of the layers' sorted listings.
   */
  async * readdir (dir: Resolved<W>, after?: string): AsyncIterable<Source> {
    if (dir.entry.kind !== 'dir') throw new NotDirError(joinPath(dir.names))
    const its = dir.sources.map((s) => s.layer.readdir(s.entry, after)[Symbol.asyncIterator]())
    const heads = await Promise.all(its.map(async (it) => (await it.next()).value as import('./interface.js').Entry | undefined))
    for (;;) {
      let min: string | undefined
      for (const h of heads) if (h !== undefined && (min === undefined || compareNames(h.name, min) < 0)) min = h.name
      if (min === undefined) return
      let top: Source | undefined
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i]
        if (h === undefined || h.name !== min) continue
        if (top === undefined) top = { layer: dir.sources[i].layer, entry: h }
        heads[i] = (await its[i].next()).value
      }
      if (top !== undefined && top.entry.kind !== 'whiteout') yield top
    }
  }
}
