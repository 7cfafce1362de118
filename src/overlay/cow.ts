import type { ChunkReader } from '../cas/interface.js'
import { NotDirError, NotFoundError, ReadOnlyError } from './errors.js'
import type { Entry } from './interface.js'
import { lowerInoKey, type InodeTable } from './inodes.js'
import { decodeJson, type KvTxn } from './kv.js'
import type { Resolved } from './layer.js'
import { joinPath, splitPath } from './path.js'
import { Tree } from './tree.js'
import { writeFileRange } from './upper-edit.js'

const COPY_PIECE_BYTES = 1 << 20
import type { Union } from './union.js'
import { isUpperEntry, nodeOfEntry, type UpperNode } from './upper-node.js'
import { putDirent, putNode, ROOT_UPPER_INO, type UpperLayer } from './writable.js'

/** Everything one mutation of the writable layer works with; `txn` commits it atomically. */
export interface MutationCtx {
  readonly txn: KvTxn
  /** The writable layer read through `txn`. */
  readonly upper: UpperLayer
  readonly union: Union<UpperLayer>
  readonly inodes: InodeTable
  readonly store: ChunkReader
  readonly now: bigint
}

/** An object of the writable layer: its ino, node (mutable copy) and path inside the layer. */
export interface UpperObject { readonly ino: number, readonly node: UpperNode, readonly rel: string }

export function inUpper (ctx: MutationCtx, r: Resolved<UpperLayer>): boolean {
  return r.sources[0].layer === ctx.upper && isUpperEntry(r.sources[0].entry)
}

/** The upper path of `r`; ReadOnlyError where no writable layer reaches. */
export function relOf (r: Resolved<UpperLayer>): string {
  if (r.upper === undefined) throw new ReadOnlyError(joinPath(r.names))
  return joinPath(r.upper.rel)
}

/** The ino of a union object that only lower layers hold (allocated on first sight). */
export async function lowerIno (ctx: MutationCtx, names: readonly string[], entry: Entry): Promise<number> {
  if (names.length === 0) return ROOT_UPPER_INO
  const [ino] = await ctx.inodes.assign([{ key: lowerInoKey(joinPath(names), entry.hardlink), path: joinPath(names) }])
  return ino
}

/**
 * The resolved directory `names` and its chain, with every directory of the chain present in
 * the writable layer (copied up as plain, non-opaque directories where needed).
 * OVERLAY_NOT_FOUND, OVERLAY_NOT_DIR, OVERLAY_READ_ONLY.
 */
export async function upperDir (ctx: MutationCtx, names: readonly string[]): Promise<Array<Resolved<UpperLayer>>> {
  let chain = await ctx.union.chain(names)
  if (chain.length !== names.length + 1) throw new NotFoundError(joinPath(names))
  const dir = chain[chain.length - 1]
  if (dir.entry.kind !== 'dir') throw new NotDirError(joinPath(names))
  relOf(dir)
  if (dir.upper?.layer !== ctx.upper) throw new ReadOnlyError(`${joinPath(names)} (in a writable layer of a .mount: not writable through this view)`)
  let copied = false
  for (let i = 0; i < chain.length; i++) {
    const r = chain[i]
    // Only the part of the chain this writable layer covers (below a `.mount` point it
    // starts at the mount point, the layer's root).
    if (r.upper?.layer !== ctx.upper || inUpper(ctx, r)) continue
    const isRoot = r.upper.rel.length === 0
    const ino = isRoot ? ROOT_UPPER_INO : await lowerIno(ctx, r.names, r.entry)
    const node = nodeOfEntry(r.entry, ctx.now)
    delete node.o
    putNode(ctx.txn, ino, node)
    if (!isRoot) putDirent(ctx.txn, relOf(chain[i - 1]), r.names[r.names.length - 1], { i: ino })
    ctx.inodes.moved(ctx.txn, ino, relOf(r))
    copied = true
  }
  if (copied) chain = await ctx.union.chain(names)
  return chain
}

/** Copies `r` (whose parent directory is already in the writable layer) up, if it is not. */
export async function copyUp (ctx: MutationCtx, parent: Resolved<UpperLayer>, r: Resolved<UpperLayer>, knownIno?: number): Promise<UpperObject> {
  if (inUpper(ctx, r) && isUpperEntry(r.entry)) {
    return { ino: r.entry.upper.ino, node: { ...r.entry.upper.node }, rel: r.entry.upper.path }
  }
  const ino = knownIno ?? await lowerIno(ctx, r.names, r.entry)
  const node = nodeOfEntry(r.entry, ctx.now)
  delete node.o
  if (isUpperEntry(r.entry) && r.entry.upper.node.sp === true) {
    // A written file of another writable layer (under a `.mount`): its chunks live in that
    // layer, not in the store, so here alone the bytes are copied.
    node.sp = true
    node.z = 0
    for (let at = 0; at < r.entry.size; at += COPY_PIECE_BYTES) {
      const piece = await r.sources[0].layer.read(r.entry, at, COPY_PIECE_BYTES)
      await writeFileRange(ctx.txn, ctx.upper.chunks, ino, node, at, piece)
    }
  }
  const name = r.names[r.names.length - 1]
  const dirRel = relOf(parent)
  putNode(ctx.txn, ino, node)
  putDirent(ctx.txn, dirRel, name, { i: ino })
  const rel = dirRel === '/' ? `/${name}` : `${dirRel}/${name}`
  ctx.inodes.moved(ctx.txn, ino, rel)
  if (r.entry.kind === 'file' && r.entry.hardlink !== undefined) node.nl += await copyUpLinkGroup(ctx, r, ino)
  putNode(ctx.txn, ino, node)
  return { ino, node, rel }
}

/**
 * The other names of a lower hard-link group follow a member into the writable layer (one
 * node, one ino), so a write through one name shows through all, as before the copy-up.
 * Finding them walks the member's layer once (hard links are rare; this is not a hot path).
 * Resolves how many other names it linked.
 */
async function copyUpLinkGroup (ctx: MutationCtx, r: Resolved<UpperLayer>, ino: number): Promise<number> {
  const layer = r.sources[0].layer
  const leader = r.entry.hardlink
  if (!(layer instanceof Tree) || leader === undefined) return 0
  const self = joinPath(r.names)
  let linked = 0
  for await (const { path, entry } of layer.walk()) {
    if (entry.hardlink !== leader || path === self) continue
    const names = splitPath(path)
    const other = await ctx.union.resolve(names).catch(() => undefined)
    if (other === undefined || other.sources[0].layer !== layer || other.entry.hardlink !== leader) continue
    const chain = await upperDir(ctx, names.slice(0, -1))
    putDirent(ctx.txn, relOf(chain[chain.length - 1]), names[names.length - 1], { i: ino })
    linked++
  }
  return linked
}

/** True when a layer below the writable one shows `name` in `dir` (so removal needs a whiteout). */
export async function lowerHas (ctx: MutationCtx, dir: Resolved<UpperLayer>, name: string): Promise<boolean> {
  for (const s of dir.sources) {
    if (s.layer === ctx.upper) continue
    const e = await s.layer.lookup(s.entry, name)
    if (e === undefined) continue
    return e.kind !== 'whiteout'
  }
  return false
}

/**
 * After a name of a hard-linked object is removed: points the ino's recorded path at one of
 * its other names (a scan of the layer's entries; removing one name of several is rare).
 */
export async function relinkPath (ctx: MutationCtx, ino: number, removedKey: string): Promise<void> {
  for await (const [key, raw] of ctx.txn.range('d:', 'd;')) {
    if (key === removedKey) continue
    if ((decodeJson<{ i?: number }>(raw)).i !== ino) continue
    const [dir, name] = key.slice(2).split('\0')
    ctx.inodes.moved(ctx.txn, ino, dir === '/' ? `/${name}` : `${dir}/${name}`)
    return
  }
}

/** Marks directory `dir` (in the writable layer) as changed now. */
export async function touchDir (ctx: MutationCtx, dir: Resolved<UpperLayer>): Promise<void> {
  const obj = await copyUpDir(ctx, dir)
  obj.node.t = ctx.now
  obj.node.c = ctx.now
  putNode(ctx.txn, obj.ino, obj.node)
}

async function copyUpDir (ctx: MutationCtx, dir: Resolved<UpperLayer>): Promise<UpperObject> {
  const fresh = await ctx.union.resolve(dir.names)
  // At a `.mount` point the visible entry is the outer one; the layer's root is a source.
  const own = fresh?.sources.find((s) => s.layer === ctx.upper)?.entry
  if (own === undefined || !isUpperEntry(own)) throw new TypeError(`directory ${joinPath(dir.names)} should be in the writable layer`)
  return { ino: own.upper.ino, node: { ...own.upper.node }, rel: own.upper.path }
}
