import { resolve as resolvePath } from 'node:path'
import { CID } from 'multiformats/cid'
import type { ChunkReader } from '../cas/interface.js'
import { BadMountError } from './errors.js'
import type { Resolved, Source, UnionLayer } from './layer.js'
import { joinPath } from './path.js'
import { openTree } from './tree.js'
import type { DirHook, Union } from './union.js'
import { openWritableLayer, UpperLayer, type WritableLayer } from './writable.js'
import { isUpperEntry } from './upper-node.js'

/**
 * `.mount` files. Any directory of any layer may hold a regular file named `.mount`; when the
 * union shows one in directory D, the file-systems it lists are stacked on top of D's own
 * content for the whole subtree below D. Syntax (UTF-8 text, one entry per line, top first):
 *
 *     # a comment; blank lines are ignored
 *     cas://<CID>                 an immutable tree by root CID
 *     template://<NAME>           a template by name (resolved by the resolver, e.g. a pin)
 *     template://<NAME>@<CID>     a template pinned to one root (the name is informative)
 *     /srv/logs rw                a local writable layer directory (file:///srv/logs too)
 *     <scheme>://...              anything else goes to the `other` resolver (store URLs)
 *
 * An empty `.mount` (or one of comments only) mounts nothing. A line is `URL [rw|ro]`: `rw` marks the writable layer; at most one line may have it and
 * it must be the first (writes go to the top). Without an `rw` line the subtree is read-only.
 * Resolution is lazy (when a lookup enters D) and cached; mounts nest (a mounted tree may
 * hold `.mount` files of its own) up to MAX_MOUNT_DEPTH, and a URL mounted again inside
 * itself is a cycle. Every problem is a BadMountError naming the `.mount` path and line.
 */
export const MOUNT_FILE = '.mount'
export const MAX_MOUNT_DEPTH = 8
const MAX_MOUNT_FILE_BYTES = 65_536
const MAX_PLAIN_DIRS = 65_536

export interface MountLine { readonly url: string, readonly writable: boolean, readonly line: number }

/** Parses a `.mount` file's text; `file` names it in errors. No lines (empty, comments only): no mount. */
export function parseMountFile (text: string, file: string): MountLine[] {
  const out: MountLine[] = []
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const words = line.split(/\s+/)
    const where = `${file}:${i + 1}`
    if (words.length > 2 || (words.length === 2 && words[1] !== 'rw' && words[1] !== 'ro')) {
      throw new BadMountError(`${where}: expected "URL [rw|ro]", got "${line}"`)
    }
    const url = words[0]
    if (!url.startsWith('/') && !/^[a-z][a-z0-9+.-]*:\/\/./.test(url)) throw new BadMountError(`${where}: "${url}" is not a URL or an absolute path`)
    const writable = words[1] === 'rw'
    if (writable && out.length > 0) throw new BadMountError(`${where}: only the first (top) layer can be writable`)
    out.push({ url, writable, line: i + 1 })
  })
  return out
}

/** How `.mount` URLs become layers. */
export interface MountResolvers {
  /** Where trees and content are read (cas:// URLs, writable layers' lower content). */
  readonly store: ChunkReader
  /** template:// (and cas://, if given) URLs; default: cas:// only. */
  readonly tree?: (url: string) => Promise<UnionLayer>
  /** Any other scheme (store URLs); undefined means unknown. */
  readonly other?: (url: string) => Promise<UnionLayer | undefined>
  /** Opens local writable layer directories (default: openWritableLayer, kept open). */
  readonly writable?: (dir: string) => Promise<WritableLayer>
}

interface Mounted { readonly layer: UnionLayer, readonly writable?: UpperLayer }

/** Creates the DirHook that applies `.mount` files (pass it as a Union's or view's `onDir`). */
export function createMountHook<W> (resolvers: MountResolvers): DirHook<W> {
  const writables = new Map<string, Promise<WritableLayer>>()
  /** Immutable layers by URL, so their node caches are shared by every lookup. */
  const trees = new Map<string, Promise<Mounted>>()
  /** Directories (by the CIDs of their sources) known to hold no `.mount`. */
  const plain = new Set<string>()
  const openW = resolvers.writable ?? (async (dir: string) => await openWritableLayer(dir))
  const resolveUrl = async (m: MountLine, file: string, union: Union<W>): Promise<Mounted> => {
    const where = `${file}:${m.line}`
    const url = m.url
    const local = url.startsWith('/') ? url : url.startsWith('file://') ? url.slice(7) : undefined
    if (local !== undefined) {
      const dir = resolvePath(local)
      let w = writables.get(dir)
      if (w === undefined) { w = openW(dir); writables.set(dir, w) }
      const kv = (await w).kv
      const layer = (union.bound(kv) as UpperLayer | undefined) ?? new UpperLayer(kv, resolvers.store)
      return { layer, writable: m.writable ? layer : undefined }
    }
    if (m.writable) throw new BadMountError(`${where}: only a local directory can be writable`)
    let cached = trees.get(url)
    if (cached === undefined) {
      cached = resolveTree(url, where)
      trees.set(url, cached)
      // A failure is not cached: the name may resolve later (a pull in progress).
      cached.catch(() => { trees.delete(url) })
    }
    return await cached
  }

  const resolveTree = async (url: string, where: string): Promise<Mounted> => {
    try {
      if (url.startsWith('cas://') && resolvers.tree === undefined) return { layer: openTree(resolvers.store, CID.parse(url.slice(6))) }
      if (url.startsWith('cas://') || url.startsWith('template://')) return { layer: await resolvers.tree!(url) }
      const other = await resolvers.other?.(url)
      if (other !== undefined) return { layer: other }
    } catch (err) {
      throw new BadMountError(`${where}: cannot resolve ${url}`, { cause: err })
    }
    throw new BadMountError(`${where}: unknown scheme in ${url}`)
  }

  const apply = async (dir: Resolved<W>, union: Union<W>): Promise<Resolved<W>> => {
    // Immutable directories are named by their CIDs: remember the ones without a `.mount`.
    const key = dir.sources.every((s) => s.entry.cid !== undefined && !isUpperEntry(s.entry))
      ? dir.sources.map((s) => s.entry.cid!.toString()).join(',')
      : undefined
    if (key !== undefined && plain.has(key)) return dir
    const file = await union.child({ ...dir, entry: dir.entry }, MOUNT_FILE).catch(() => undefined)
    if (file === undefined || file.entry.kind !== 'file') {
      if (key !== undefined) {
        plain.add(key)
        if (plain.size > MAX_PLAIN_DIRS) plain.delete(plain.values().next().value as string)
      }
      return dir
    }
    const path = joinPath(file.names)
    if (dir.mountDepth + 1 > MAX_MOUNT_DEPTH) throw new BadMountError(`${path}: mounts nested deeper than ${MAX_MOUNT_DEPTH}`)
    const bytes = await file.sources[0].layer.read(file.entry, 0, MAX_MOUNT_FILE_BYTES + 1)
    if (bytes.length > MAX_MOUNT_FILE_BYTES) throw new BadMountError(`${path}: larger than ${MAX_MOUNT_FILE_BYTES} bytes`)
    const lines = parseMountFile(new TextDecoder('utf-8', { fatal: false }).decode(bytes), path)
    if (lines.length === 0) return dir
    const chain = (dir as { mounted?: readonly string[] }).mounted ?? []
    const sources: Source[] = []
    let upper: Resolved<W>['upper']
    let cut = false
    for (const m of lines) {
      if (chain.includes(m.url)) throw new BadMountError(`${path}:${m.line}: ${m.url} is mounted inside itself (cycle)`)
      const mounted = await resolveUrl(m, path, union)
      if (mounted.writable !== undefined) upper = { layer: mounted.writable as W, rel: [] }
      const root = await mounted.layer.rootEntry()
      if (root === undefined || cut) continue
      sources.push({ layer: mounted.layer, entry: root })
      if (root.opaque === true) cut = true
    }
    if (!cut) sources.push(...dir.sources)
    const next = { ...dir, sources, upper, mountDepth: dir.mountDepth + 1, entry: dir.entry, mounted: [...chain, ...lines.map((l) => l.url)] }
    // A mounted file-system with a `.mount` of its own at its root: nested, applied in turn.
    const again = await union.child(next, MOUNT_FILE).catch(() => undefined)
    if (again !== undefined && again.sources[0].layer !== file.sources[0].layer) return await apply(next, union)
    return next
  }
  return apply
}
