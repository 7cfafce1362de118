import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { DAG_CBOR_CODEC, RAW_CODEC } from '../cas/codes.js'
import { cidForBlock } from '../cas/hasher.js'
import type { ChunkReader } from '../cas/interface.js'
import { decodeDirNode, decodeFileIndex, decodeTreeRoot } from '../overlay/codec.js'
import type { Entry, FilePart } from '../overlay/interface.js'
import type { Block } from './car.js'

/**
 * Deltas for changed files. When a client that holds tree `base` asks for chunks of tree
 * `target`, a chunk of a file that exists at the same path in `base` with other content is
 * sent as part of a delta block: the file's wanted chunks zstd-compressed with the base
 * version of the file as reference ("patch-from"), which beats whole-chunk dedup on
 * upgrades. A delta block is a dag-cbor block like any other (so it travels in the CAR and
 * is verified against its own CID):
 *
 *   { xd: 1, t: [[CID, size], ...] (target chunks, in file order), r: [CID, ...] (base chunks), z: bytes }
 *
 * The receiver reads `r` from its own store, decompresses, cuts by the sizes in `t`, verifies
 * every chunk against its CID and stores it; the delta block itself is never stored.
 */
export const DELTA_VERSION = 1
/** Files whose base version is larger than this get no delta (the reference is held in memory). */
export const MAX_REFERENCE_BYTES_32MIB = 32 * 1024 * 1024

export interface DeltaBlock { readonly targets: FilePart[], readonly refs: CID[], readonly z: Uint8Array }

/** Every regular file of a tree: path -> its leaf chunks in order. Reads nodes from `reader`; absent nodes are skipped. */
export async function fileChunks (reader: ChunkReader, root: CID): Promise<Map<string, FilePart[]>> {
  const out = new Map<string, FilePart[]>()
  const rootBytes = await reader.get(root)
  if (rootBytes === undefined) return out
  const top = decodeTreeRoot(rootBytes).root
  const dirs: Array<[string, CID]> = top.cid !== undefined ? [['', top.cid]] : []
  while (dirs.length > 0) {
    const [path, cid] = dirs.pop()!
    const bytes = await reader.get(cid)
    if (bytes === undefined) continue
    const node = decodeDirNode(bytes)
    if (node.type === 'shards') { for (const s of node.shards) dirs.push([path, s.cid]); continue }
    for (const e of node.entries) {
      const p = path === '' ? e.name : `${path}/${e.name}`
      if (e.kind === 'dir' && e.cid !== undefined) dirs.push([p, e.cid])
      else if (e.kind === 'file' && e.cid !== undefined) {
        const parts = await leaves(reader, e)
        if (parts !== undefined) out.set(p, parts)
      }
    }
  }
  return out
}

/** A file of the target tree and the base version it can be expressed against. */
export interface FilePair { readonly path: string, readonly target: Entry, readonly base: Entry }

const shapeOf = (name: string): string => name.replace(/[0-9]+/g, '#')

async function entriesOf (reader: ChunkReader, dir: CID | undefined): Promise<Entry[]> {
  if (dir === undefined) return []
  const bytes = await reader.get(dir)
  if (bytes === undefined) return []
  const node = decodeDirNode(bytes)
  if (node.type === 'entries') return [...node.entries]
  const out: Entry[] = []
  for (const s of node.shards) out.push(...await entriesOf(reader, s.cid))
  return out
}

/**
 * The files of tree `root` whose content differs from a file of tree `base` at the same path
 * (or, for a name absent from `base`, at the one base name of the same shape: the same name
 * with its numbers blanked, as upgrades rename `6.1.0-18-amd64` to `6.1.0-21-amd64`).
 * Walks both trees together and never descends into directories with equal CIDs, so the cost
 * follows the size of the change, not of the trees.
 */
export async function changedFiles (reader: ChunkReader, root: CID, base: CID): Promise<FilePair[]> {
  const [t, b] = await Promise.all([reader.get(root), reader.get(base)])
  if (t === undefined || b === undefined) return []
  const out: FilePair[] = []
  const walk = async (path: string, tDir: CID | undefined, bDir: CID | undefined): Promise<void> => {
    if (tDir === undefined || (bDir !== undefined && tDir.equals(bDir))) return
    const [tEntries, bEntries] = await Promise.all([entriesOf(reader, tDir), entriesOf(reader, bDir)])
    const byName = new Map(bEntries.map((e) => [e.name, e]))
    const names = new Set(tEntries.map((e) => e.name))
    const byShape = new Map<string, Entry | null>()
    for (const e of bEntries) if (!names.has(e.name)) { const k = shapeOf(e.name); byShape.set(k, byShape.has(k) ? null : e) }
    for (const e of tEntries) {
      const other = byName.get(e.name) ?? byShape.get(shapeOf(e.name)) ?? undefined
      const p = path === '' ? e.name : `${path}/${e.name}`
      if (e.kind === 'dir') await walk(p, e.cid, other?.kind === 'dir' ? other.cid : undefined)
      else if (e.kind === 'file' && e.cid !== undefined && other?.kind === 'file' && other.cid !== undefined && !other.cid.equals(e.cid)) {
        out.push({ path: p, target: e, base: other })
      }
    }
  }
  await walk('', decodeTreeRoot(t).root.cid, decodeTreeRoot(b).root.cid)
  return out
}

/** The leaf chunks of a file entry, in order; undefined when an index node is absent. */
export async function fileLeaves (reader: ChunkReader, e: Entry): Promise<FilePart[] | undefined> { return await leaves(reader, e) }

async function leaves (reader: ChunkReader, e: Entry): Promise<FilePart[] | undefined> {
  if (e.cid === undefined) return []
  if (e.cid.code === RAW_CODEC) return [{ cid: e.cid, size: e.size }]
  const out: FilePart[] = []
  const walk = async (cid: CID): Promise<boolean> => {
    const bytes = await reader.get(cid)
    if (bytes === undefined) return false
    for (const part of decodeFileIndex(bytes)) {
      if (part.cid.code === RAW_CODEC) out.push(part)
      else if (!await walk(part.cid)) return false
    }
    return true
  }
  return await walk(e.cid) ? out : undefined
}

/** Encodes a delta block. */
export function encodeDeltaBlock (d: DeltaBlock): Block {
  const bytes = dagCbor.encode({ xd: DELTA_VERSION, t: d.targets.map((p) => [p.cid, p.size]), r: d.refs, z: d.z })
  return { cid: cidForBlock(DAG_CBOR_CODEC, bytes), bytes }
}

/** Decodes a delta block; undefined for anything else (a tree node, garbage). */
export function decodeDeltaBlock (block: Block): DeltaBlock | undefined {
  if (block.cid.code !== DAG_CBOR_CODEC) return undefined
  let v: any
  try { v = dagCbor.decode(block.bytes) } catch { return undefined }
  if (v?.xd !== DELTA_VERSION || !Array.isArray(v.t) || !Array.isArray(v.r) || !(v.z instanceof Uint8Array)) return undefined
  const targets: FilePart[] = []
  for (const t of v.t) {
    const cid = Array.isArray(t) ? CID.asCID(t[0]) : null
    if (cid === null || !Number.isSafeInteger(t[1]) || t[1] < 0) return undefined
    targets.push({ cid, size: t[1] })
  }
  const refs: CID[] = []
  for (const r of v.r) { const cid = CID.asCID(r); if (cid === null) return undefined; refs.push(cid) }
  return { targets, refs, z: v.z }
}
