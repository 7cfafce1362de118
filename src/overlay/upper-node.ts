import { CID } from 'multiformats/cid'
import type { Entry } from './interface.js'
import type { FileKind } from './view.js'

/**
 * What the writable layer stores per object, `n:<ino>` in its Kv (JSON, bigints tagged).
 * A file's content is either `base` (the content CID of the lower file it was copied up from,
 * untouched since: copy-up costs one record whatever the size) or, once written, its spans
 * (`s:<ino>:<end offset>` records, upper-spans.ts).
 */
export interface UpperNode {
  k: FileKind
  m: number
  u: number
  g: number
  t: bigint
  c: bigint
  z: number
  nl: number
  o?: boolean
  l?: string
  r?: [number, number]
  /** xattrs, base64 values. */
  x?: Record<string, string>
  b?: string
  sp?: boolean
}

/** An entry handed out by the writable layer: the path inside the layer and the node. */
export interface UpperEntry extends Entry {
  readonly upper: { readonly ino: number, readonly path: string, readonly node: UpperNode, readonly owner?: unknown }
}

export function isUpperEntry (e: Entry): e is UpperEntry {
  return (e as Partial<UpperEntry>).upper !== undefined
}

/** The Entry of a node (CIDs absent except a base file's content). */
export function entryOfNode (name: string, ino: number, path: string, node: UpperNode, owner?: unknown): UpperEntry {
  const x = node.x !== undefined ? Object.fromEntries(Object.entries(node.x).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])) : undefined
  return {
    name, kind: node.k, mode: node.m, uid: node.u, gid: node.g, mtimeNs: node.t, size: node.z,
    ...(node.b !== undefined && node.sp !== true ? { cid: CID.parse(node.b) } : {}),
    ...(node.l !== undefined ? { target: node.l } : {}),
    ...(node.r !== undefined ? { devMajor: node.r[0], devMinor: node.r[1] } : {}),
    ...(x !== undefined ? { xattrs: x } : {}),
    ...(node.o === true ? { opaque: true } : {}),
    upper: { ino, path, node, owner }
  }
}

/** A node holding a lower entry's metadata (content by reference: copy-up). */
export function nodeOfEntry (e: Entry, nowNs: bigint): UpperNode {
  if (e.kind === 'whiteout') throw new TypeError('a whiteout has no node')
  const node: UpperNode = { k: e.kind, m: e.mode, u: e.uid, g: e.gid, t: e.mtimeNs, c: nowNs, z: e.size, nl: 1 }
  if (e.kind === 'file' && e.cid !== undefined) node.b = e.cid.toString()
  if (e.target !== undefined) node.l = e.target
  if (e.devMajor !== undefined || e.devMinor !== undefined) node.r = [e.devMajor ?? 0, e.devMinor ?? 0]
  if (e.xattrs !== undefined) node.x = Object.fromEntries(Object.entries(e.xattrs).map(([k, v]) => [k, Buffer.from(v).toString('base64')]))
  return node
}

/** Nanoseconds since the epoch, now. */
export function nowNs (): bigint {
  return BigInt(Date.now()) * 1_000_000n
}
