import { ExistsError, InvalidOperationError, IsDirError, NotDirError, NotEmptyError, NotFoundError } from './errors.js'
import type { Resolved } from './layer.js'
import { parentAndName, splitPath } from './path.js'
import { copyUp, inUpper, lowerHas, relinkPath, relOf, touchDir, upperDir, type MutationCtx } from './cow.js'
import type { UpperNode } from './upper-node.js'
import { dropFileContent, truncateFile, writeFileRange } from './upper-edit.js'
import { direntKey, direntRange, putDirent, putNode, type UpperLayer } from './writable.js'
import type { CreateAttrs, FileKind, SetAttrs } from './view.js'
import { isUpperEntry } from './upper-node.js'

/** Creates a new object at `path` (OVERLAY_EXISTS if the union shows one there). */
export async function createObject (ctx: MutationCtx, path: string, kind: FileKind, attrs: CreateAttrs,
  extra: Partial<UpperNode> = {}): Promise<void> {
  const { parent, name } = parentAndName(path)
  const chain = await upperDir(ctx, parent)
  const dir = chain[chain.length - 1]
  if (await ctx.union.child(dir, name) !== undefined) throw new ExistsError(path)
  const rel = relOf(dir)
  const wasWhiteout = (await ctx.upper.dirent(rel, name))?.w !== undefined
  const ino = ctx.inodes.allocate(ctx.txn)
  const node: UpperNode = {
    k: kind, m: (attrs.mode ?? (kind === 'dir' ? 0o755 : kind === 'symlink' ? 0o777 : 0o644)) & 0o7777,
    u: attrs.uid ?? 0, g: attrs.gid ?? 0, t: attrs.mtimeNs ?? ctx.now, c: ctx.now, z: 0, nl: 1, ...extra
  }
  if (kind === 'dir' && wasWhiteout) node.o = true // hide what the whiteout hid
  if (kind === 'file') node.sp = true
  putNode(ctx.txn, ino, node)
  putDirent(ctx.txn, rel, name, { i: ino })
  ctx.inodes.moved(ctx.txn, ino, rel === '/' ? `/${name}` : `${rel}/${name}`)
  await touchDir(ctx, dir)
}

/** The object at `path` and the writable-layer chain of its parent. OVERLAY_NOT_FOUND. */
async function target (ctx: MutationCtx, path: string): Promise<{ chain: Array<Resolved<UpperLayer>>, r: Resolved<UpperLayer>, name: string }> {
  const { parent, name } = parentAndName(path)
  const chain = await upperDir(ctx, parent)
  const r = await ctx.union.child(chain[chain.length - 1], name)
  if (r === undefined) throw new NotFoundError(path)
  return { chain, r, name }
}

/** Removes the name `name` of `r` from its parent (a whiteout if a lower layer has it). */
async function removeName (ctx: MutationCtx, dir: Resolved<UpperLayer>, r: Resolved<UpperLayer>, name: string): Promise<void> {
  const rel = relOf(dir)
  if (inUpper(ctx, r) && isUpperEntry(r.entry)) {
    const { ino, node } = r.entry.upper
    if (node.k === 'dir') {
      // An empty union directory: whatever the layer still lists below it are whiteouts.
      const [gte, lt] = direntRange(r.entry.upper.path)
      for await (const [key] of ctx.txn.range(gte, lt)) ctx.txn.del(key)
      ctx.txn.del(`n:${ino}`)
    } else if (node.nl > 1) {
      putNode(ctx.txn, ino, { ...node, nl: node.nl - 1, c: ctx.now })
      await relinkPath(ctx, ino, direntKey(rel, name))
    } else {
      await dropFileContent(ctx.txn, ctx.upper.chunks, ino, node)
      ctx.txn.del(`n:${ino}`)
    }
  }
  if (await lowerHas(ctx, dir, name)) putDirent(ctx.txn, rel, name, { w: 1 })
  else ctx.txn.del(direntKey(rel, name))
}

export async function unlinkObject (ctx: MutationCtx, path: string): Promise<void> {
  const { chain, r, name } = await target(ctx, path)
  if (r.entry.kind === 'dir') throw new IsDirError(path)
  const dir = chain[chain.length - 1]
  await removeName(ctx, dir, r, name)
  await touchDir(ctx, dir)
}

export async function rmdirObject (ctx: MutationCtx, path: string): Promise<void> {
  if (splitPath(path).length === 0) throw new InvalidOperationError('cannot remove the root directory')
  const { chain, r, name } = await target(ctx, path)
  if (r.entry.kind !== 'dir') throw new NotDirError(path)
  for await (const _ of ctx.union.readdir(r)) throw new NotEmptyError(path)
  const dir = chain[chain.length - 1]
  await removeName(ctx, dir, r, name)
  await touchDir(ctx, dir)
}

/** Writes `data` at `offset` of the file at `path`, copying it up first. */
export async function writeObject (ctx: MutationCtx, path: string, offset: number, data: Uint8Array): Promise<void> {
  const { chain, r } = await target(ctx, path)
  if (r.entry.kind === 'dir') throw new IsDirError(path)
  if (r.entry.kind !== 'file') throw new InvalidOperationError(`not a regular file: ${path}`)
  const obj = await copyUp(ctx, chain[chain.length - 1], r)
  await writeFileRange(ctx.txn, ctx.upper.chunks, obj.ino, obj.node, offset, data)
  obj.node.t = ctx.now
  obj.node.c = ctx.now
  putNode(ctx.txn, obj.ino, obj.node)
}

/** chmod, chown, utimes and truncate. */
export async function setattrObject (ctx: MutationCtx, path: string, set: SetAttrs): Promise<void> {
  const names = splitPath(path)
  const obj = names.length === 0
    ? await rootObject(ctx)
    : await (async () => { const { chain, r } = await target(ctx, path); return await copyUp(ctx, chain[chain.length - 1], r) })()
  const node = obj.node
  if (set.size !== undefined) {
    if (node.k === 'dir') throw new IsDirError(path)
    if (node.k !== 'file') throw new InvalidOperationError(`not a regular file: ${path}`)
    await truncateFile(ctx.txn, ctx.upper.chunks, obj.ino, node, set.size)
    node.t = ctx.now
  }
  if (set.mode !== undefined) node.m = set.mode & 0o7777
  if (set.uid !== undefined) node.u = set.uid
  if (set.gid !== undefined) node.g = set.gid
  if (set.mtimeNs !== undefined) node.t = set.mtimeNs
  node.c = ctx.now
  putNode(ctx.txn, obj.ino, node)
}

async function rootObject (ctx: MutationCtx): Promise<{ ino: number, node: UpperNode }> {
  const [root] = await upperDir(ctx, [])
  if (!isUpperEntry(root.entry)) throw new TypeError('root should be in the writable layer')
  return { ino: root.entry.upper.ino, node: { ...root.entry.upper.node } }
}

/** A new name `path` for the non-directory at `existing`. */
export async function linkObject (ctx: MutationCtx, existing: string, path: string): Promise<void> {
  let src = await target(ctx, existing)
  const { parent, name } = parentAndName(path)
  const chain = await upperDir(ctx, parent)
  const dir = chain[chain.length - 1]
  if (await ctx.union.child(dir, name) !== undefined) throw new ExistsError(path)
  if (src.r.entry.kind === 'dir') throw new IsDirError(existing)
  src = await target(ctx, existing)
  const obj = await copyUp(ctx, src.chain[src.chain.length - 1], src.r)
  putNode(ctx.txn, obj.ino, { ...obj.node, nl: obj.node.nl + 1, c: ctx.now })
  putDirent(ctx.txn, relOf(dir), name, { i: obj.ino })
  await touchDir(ctx, dir)
}

