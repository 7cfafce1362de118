import { copyUp, inUpper, lowerHas, relinkPath, relOf, touchDir, upperDir, type MutationCtx, type UpperObject } from './cow.js'
import { BadPathError, IsDirError, NotDirError, NotEmptyError, NotFoundError } from './errors.js'
import type { Resolved } from './layer.js'
import { joinPath, parentAndName } from './path.js'
import { isUpperEntry } from './upper-node.js'
import { lowerInoKey } from './inodes.js'
import { decodeJson } from './kv.js'
import { descendantRange, direntKey, direntRange, putDirent, putNode, type Dirent, type UpperLayer } from './writable.js'

/**
 * Copies `r` and, for a directory, everything the union shows below it into the writable
 * layer (files by chunk list, never bytes), and marks such directories opaque: after this
 * the writable layer alone holds the subtree, so it can move to a path where the lower
 * layers have nothing (or something else).
 */
async function copyUpTree (ctx: MutationCtx, parent: Resolved<UpperLayer>, r: Resolved<UpperLayer>, knownIno?: number): Promise<UpperObject> {
  const obj = await copyUp(ctx, parent, r, knownIno)
  if (obj.node.k !== 'dir' || obj.node.o === true) return obj
  const self = await ctx.union.resolve(r.names)
  if (self === undefined) throw new TypeError('copied-up directory vanished')
  const names: string[] = []
  for await (const child of ctx.union.readdir(self)) names.push(child.entry.name)
  // One round trip for what the loop below looks up: the layer's entries and the inode keys.
  await ctx.txn.prefetch([
    ...names.map((n) => direntKey(obj.rel, n)),
    ...names.map((n) => lowerInoKey(joinPath([...r.names, n])))
  ])
  const todo: Array<Resolved<UpperLayer>> = []
  for (const name of names) {
    const child = await ctx.union.child(self, name)
    if (child === undefined) continue
    if (inUpper(ctx, child) && (child.entry.kind !== 'dir' || child.entry.opaque === true)) continue
    todo.push(child)
  }
  // One inode-table batch per directory, not one per entry.
  const lower = todo.filter((c) => !inUpper(ctx, c))
  const inos = await ctx.inodes.assign(lower.map((c) => ({ key: lowerInoKey(joinPath(c.names), c.entry.hardlink), path: joinPath(c.names) })))
  const inoOf = new Map(lower.map((c, i) => [c, inos[i]]))
  for (const child of todo) await copyUpTree(ctx, self, child, inoOf.get(child))
  obj.node.o = true
  putNode(ctx.txn, obj.ino, obj.node)
  return obj
}

async function at (ctx: MutationCtx, path: string): Promise<{ dir: Resolved<UpperLayer>, r?: Resolved<UpperLayer>, name: string }> {
  const { parent, name } = parentAndName(path)
  const chain = await upperDir(ctx, parent)
  const dir = chain[chain.length - 1]
  return { dir, r: await ctx.union.child(dir, name), name }
}

/** POSIX rename in the union (see WriteView.rename). */
export async function renameObject (ctx: MutationCtx, from: string, to: string): Promise<void> {
  const fromPath = joinPath(parentAndName(from).parent.concat(parentAndName(from).name))
  const toPath = joinPath(parentAndName(to).parent.concat(parentAndName(to).name))
  // Errors in the kernel's order: both parents, then the source, then the shapes.
  await at(ctx, from)
  const dst = await at(ctx, to)
  let src = await at(ctx, from)
  if (src.r === undefined) throw new NotFoundError(from)
  if (fromPath === toPath) return
  if (toPath.startsWith(fromPath + '/')) throw new BadPathError(to, 'cannot move a directory into itself')
  if (fromPath.startsWith(toPath + '/') || toPath === '/') throw new NotEmptyError(to) // the target holds the source (Linux: ENOTEMPTY)
  const isDir = src.r.entry.kind === 'dir'
  if (dst.r !== undefined) {
    if (isUpperEntry(dst.r.entry) && isUpperEntry(src.r.entry) && dst.r.entry.upper.ino === src.r.entry.upper.ino) return
    if (isDir && dst.r.entry.kind !== 'dir') throw new NotDirError(to)
    if (!isDir && dst.r.entry.kind === 'dir') throw new IsDirError(to)
    if (isDir) for await (const _ of ctx.union.readdir(dst.r)) throw new NotEmptyError(to)
    await removeExisting(ctx, dst.dir, dst.r)
  }
  src = await at(ctx, from)
  if (src.r === undefined) throw new NotFoundError(from)
  const obj = await copyUpTree(ctx, src.dir, src.r)
  const dstDir = (await at(ctx, to)).dir
  const newRel = relOf(dstDir) === '/' ? `/${dst.name}` : `${relOf(dstDir)}/${dst.name}`
  if (isDir) await moveDescendants(ctx, obj.rel, newRel)
  ctx.txn.del(direntKey(relOf(src.dir), src.name))
  if (await lowerHas(ctx, src.dir, src.name)) putDirent(ctx.txn, relOf(src.dir), src.name, { w: 1 })
  putDirent(ctx.txn, relOf(dstDir), dst.name, { i: obj.ino })
  putNode(ctx.txn, obj.ino, { ...obj.node, c: ctx.now })
  ctx.inodes.moved(ctx.txn, obj.ino, newRel)
  await touchDir(ctx, src.dir)
  await touchDir(ctx, (await at(ctx, to)).dir)
}

/** Drops the object a rename replaces (its name is overwritten by the caller). */
async function removeExisting (ctx: MutationCtx, dir: Resolved<UpperLayer>, r: Resolved<UpperLayer>): Promise<void> {
  if (!inUpper(ctx, r) || !isUpperEntry(r.entry)) return
  const { ino, node, path } = r.entry.upper
  if (node.k === 'dir') {
    const [gte, lt] = direntRange(path)
    for await (const [key] of ctx.txn.range(gte, lt)) ctx.txn.del(key)
    ctx.txn.del(`n:${ino}`)
  } else if (node.nl > 1) {
    putNode(ctx.txn, ino, { ...node, nl: node.nl - 1, c: ctx.now })
    await relinkPath(ctx, ino, direntKey(relOf(dir), r.names[r.names.length - 1]))
  } else {
    const { dropFileContent } = await import('./upper-edit.js')
    await dropFileContent(ctx.txn, ctx.upper.chunks, ino, node)
    ctx.txn.del(`n:${ino}`)
  }
  ctx.txn.del(direntKey(relOf(dir), r.names[r.names.length - 1]))
}

/** Rewrites every entry below `oldRel` to sit below `newRel` (ino paths follow). */
async function moveDescendants (ctx: MutationCtx, oldRel: string, newRel: string): Promise<void> {
  const moves: Array<[string, Uint8Array]> = []
  for (const [gte, lt] of [direntRange(oldRel), descendantRange(oldRel)]) {
    for await (const kv of ctx.txn.range(gte, lt)) moves.push(kv)
  }
  for (const [key] of moves) ctx.txn.del(key)
  for (const [key, value] of moves) {
    const [dirPath, name] = key.slice(2).split('\0')
    const suffix = dirPath.slice(oldRel.length)
    ctx.txn.put(direntKey(newRel + suffix, name), value)
    const d = decodeJson<Dirent>(value)
    if (d.i !== undefined) ctx.inodes.moved(ctx.txn, d.i, `${newRel}${suffix}/${name}`)
  }
}
