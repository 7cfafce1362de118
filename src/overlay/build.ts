import type { CID } from 'multiformats/cid'
import type { AbortOptions, ChunkReader } from '../cas/interface.js'
import { encodeTreeRoot, isValidName } from './codec.js'
import { sortEntries, writeDir } from './dir-write.js'
import { BadPathError } from './errors.js'
import type { BlockSink } from './file-write.js'
import type { Entry } from './interface.js'
import { splitPath } from './path.js'
import { openTree, type Tree } from './tree.js'

/** OCI image-spec layer markers: `.wh.NAME` hides NAME below, `.wh..wh..opq` makes its directory opaque. */
export const WHITEOUT_PREFIX = '.wh.'
export const OPAQUE_MARKER = '.wh..wh..opq'

export interface BuildOptions extends AbortOptions {
  /** More paths to hide (whiteouts), e.g. from `--whiteout PATH`. */
  readonly whiteouts?: readonly string[]
  /** A base tree: parent directories that only whiteouts need take its metadata. */
  readonly base?: Tree
}

export interface BuildResult { readonly root: CID, readonly whiteouts: number, readonly opaque: number }

interface Pending { whiteouts: Set<string>, children: Map<string, Pending> }

function pendingTree (paths: readonly string[]): Pending {
  const top: Pending = { whiteouts: new Set(), children: new Map() }
  for (const path of paths) {
    const names = splitPath(path)
    const last = names.pop()
    if (last === undefined) throw new BadPathError(path, 'cannot white out the root')
    let p = top
    for (const n of names) {
      let next = p.children.get(n)
      if (next === undefined) { next = { whiteouts: new Set(), children: new Map() }; p.children.set(n, next) }
      p = next
    }
    p.whiteouts.add(last)
  }
  return top
}

const WHITEOUT = (name: string): Entry => ({ name, kind: 'whiteout', mode: 0, uid: 0, gid: 0, mtimeNs: 0n, size: 0 })

/**
 * Turns an imported directory of additions (tree `imported`) into an overlay: OCI markers
 * become whiteout entries and opaque flags (a container image layer imports as it is), and
 * `options.whiteouts` are added. A real entry wins over a marker for the same name. Content
 * is never re-read: only directory nodes on the way to a marker are rewritten.
 */
export async function buildOverlay (reader: ChunkReader, imported: CID, sink: BlockSink,
  options: BuildOptions = {}): Promise<BuildResult> {
  const tree = openTree(reader, imported)
  const counts = { whiteouts: 0, opaque: 0 }
  const rewrite = async (dir: Entry | undefined, path: string[], extra: Pending | undefined, metaOf?: Entry): Promise<Entry> => {
    options.signal?.throwIfAborted()
    const byName = new Map<string, Entry>()
    let opaque = false
    const markers = new Set<string>(extra?.whiteouts ?? [])
    if (dir !== undefined) {
      for await (const e of tree.readdir(dir)) {
        if (e.name === OPAQUE_MARKER) { opaque = true; continue }
        if (e.name.startsWith(WHITEOUT_PREFIX) && isValidName(e.name.slice(WHITEOUT_PREFIX.length))) { markers.add(e.name.slice(WHITEOUT_PREFIX.length)); continue }
        byName.set(e.name, e)
      }
    }
    for (const [name, sub] of extra?.children ?? []) {
      const existing = byName.get(name)
      if (existing !== undefined && existing.kind !== 'dir') continue
      byName.set(name, await rewrite(existing, [...path, name], sub, existing ?? await baseDir([...path, name])))
    }
    for (const [name, e] of byName) if (e.kind === 'dir' && !(extra?.children.has(name) ?? false)) byName.set(name, await rewrite(e, [...path, name], undefined))
    for (const name of markers) if (!byName.has(name)) { byName.set(name, WHITEOUT(name)); counts.whiteouts++ }
    if (opaque) counts.opaque++
    const meta = dir ?? metaOf ?? { name: path[path.length - 1] ?? '', kind: 'dir' as const, mode: 0o755, uid: 0, gid: 0, mtimeNs: 0n, size: 0 }
    const { cid: _c, opaque: _o, ...rest } = meta
    rest.name = path[path.length - 1] ?? ''
    return { ...rest, cid: await writeDir(sortEntries([...byName.values()]), sink), ...(opaque ? { opaque: true } : {}) }
  }
  const baseDir = async (names: string[]): Promise<Entry | undefined> => {
    const e = await options.base?.stat(names).catch(() => undefined)
    return e?.kind === 'dir' ? e : undefined
  }
  const root = await rewrite(await tree.rootEntry(), [], pendingTree(options.whiteouts ?? []))
  const block = encodeTreeRoot({ ...root, name: '' })
  await sink.put(block.cid, block.bytes)
  return { root: block.cid, ...counts }
}
