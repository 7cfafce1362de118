import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChunkReader } from '../cas/interface.js'
import { compareNames } from './codec.js'
import { IsDirError, LayerBusyError } from './errors.js'
import type { Entry } from './interface.js'
import { cacheKv, decodeJson, encodeJson, openLevelKv, type Kv, type KvReader, type KvTxn } from './kv.js'
import type { UnionLayer } from './layer.js'
import { entryOfNode, isUpperEntry, type UpperEntry, type UpperNode } from './upper-node.js'
import { LayerChunks, readUpperFile } from './upper-spans.js'

/**
 * Storage of the writable layer, in one Kv (LevelDB in `<dir>/meta`), every mutation one
 * atomic batch:
 *   d:<dir path>\0<name> → {"i": ino} | {"w": 1}   directory entry or whiteout (paths inside the layer)
 *   n:<ino>              → UpperNode                metadata, nlink, content mode (upper-node.ts)
 *   s:<ino>:<end hex>    → {"c": cid, "z": size}    chunks of a written file (upper-spans.ts)
 *   k:<cid>, r:<cid>     → bytes, reference count  chunks this layer wrote itself
 *   p:, h:, i:, meta:    → the view's inode table (inodes.ts)
 * Chunks written by the layer live in its own Kv, in the same batch as the records that use
 * them, so a crash can never leave a record pointing at a chunk that was not written; commit
 * copies them to the target store. The root directory is always ino 1 (`n:1`, present once
 * anything was written).
 */
export const ROOT_UPPER_INO = 1
const READDIR_PAGE = 128

export function direntKey (dirPath: string, name: string): string { return `d:${dirPath}\0${name}` }
/** Key range of the entries of `dirPath`. */
export function direntRange (dirPath: string): [string, string] { return [`d:${dirPath}\0`, `d:${dirPath}\x01`] }
/** Key range of the entries of every directory strictly below `dirPath` (not the root). */
export function descendantRange (dirPath: string): [string, string] { return [`d:${dirPath}/`, `d:${dirPath}0`] }

export type Dirent = { i: number, w?: undefined } | { w: 1, i?: undefined }

/** The read side of the writable layer over a Kv or a transaction on it. */
export class UpperLayer implements UnionLayer {
  readonly kv: KvReader
  readonly chunks: ChunkReader
  constructor (kv: KvReader, store: ChunkReader) {
    this.kv = kv
    this.chunks = new LayerChunks(kv, store)
  }

  async node (ino: number): Promise<UpperNode | undefined> {
    const raw = await this.kv.get(`n:${ino}`)
    return raw === undefined ? undefined : decodeJson<UpperNode>(raw)
  }

  async dirent (dirPath: string, name: string): Promise<Dirent | undefined> {
    const raw = await this.kv.get(direntKey(dirPath, name))
    return raw === undefined ? undefined : decodeJson<Dirent>(raw)
  }

  async rootEntry (): Promise<UpperEntry | undefined> {
    const node = await this.node(ROOT_UPPER_INO)
    return node === undefined ? undefined : entryOfNode('', ROOT_UPPER_INO, '/', node, this.kv)
  }

  async lookup (dir: Entry, name: string): Promise<Entry | undefined> {
    const base = upperPath(dir)
    const d = await this.dirent(base, name)
    if (d === undefined) return undefined
    return await this.#entry(base, name, d)
  }

  async #entry (base: string, name: string, d: Dirent): Promise<Entry> {
    if (d.w !== undefined) return { name, kind: 'whiteout', mode: 0, uid: 0, gid: 0, mtimeNs: 0n, size: 0 }
    const node = await this.node(d.i)
    if (node === undefined) throw new TypeError(`writable layer: entry ${base}/${name} names missing node ${d.i}`)
    return entryOfNode(name, d.i, base === '/' ? `/${name}` : `${base}/${name}`, node, this.kv)
  }

  async * readdir (dir: Entry, after?: string): AsyncIterable<Entry> {
    const base = upperPath(dir)
    const [gte, lt] = direntRange(base)
    const prefix = gte.length
    // Names hold no NUL: the first key past `after` is at or after `after` + NUL.
    const from = after !== undefined ? `${direntKey(base, after)}\0` : gte
    let page: Array<[string, Dirent]> = []
    const flush = async function * (this: UpperLayer): AsyncIterable<Entry> {
      // Nodes of a page in one round trip where the Kv can.
      const kv = this.kv as Partial<Kv>
      await kv.prefetch?.(page.filter(([, d]) => d.i !== undefined).map(([, d]) => `n:${d.i as number}`))
      for (const [name, d] of page) yield await this.#entry(base, name, d)
      page = []
    }
    for await (const [key, raw] of this.kv.range(from, lt)) {
      const name = key.slice(prefix)
      if (after !== undefined && compareNames(name, after) <= 0) continue
      page.push([name, decodeJson<Dirent>(raw)])
      if (page.length >= READDIR_PAGE) yield * flush.call(this)
    }
    yield * flush.call(this)
  }

  async read (file: Entry, offset: number, length: number): Promise<Uint8Array> {
    if (!isUpperEntry(file)) throw new TypeError('not an entry of this layer')
    if (file.kind === 'dir') throw new IsDirError(file.upper.path)
    return await readUpperFile(this.kv, this.chunks, file.upper.ino, file.upper.node, offset, length)
  }
}

function upperPath (dir: Entry): string {
  if (!isUpperEntry(dir)) throw new TypeError('not an entry of this layer')
  return dir.upper.path
}

/** Writes node `ino` into `txn`. */
export function putNode (txn: KvTxn, ino: number, node: UpperNode): void { txn.put(`n:${ino}`, encodeJson(node)) }
export function putDirent (txn: KvTxn, dirPath: string, name: string, d: Dirent): void {
  txn.put(direntKey(dirPath, name), encodeJson(d))
}

/** A writable layer on disk: its Kv and the store lower content (and commits) live in. */
export interface WritableLayer {
  readonly dir: string
  readonly kv: Kv
  close (): Promise<void>
}

/**
 * Opens (creating if needed) the writable layer in directory `dir`, for this process alone.
 * Rejects OVERLAY_LAYER_BUSY when another process has it open.
 */
export async function openWritableLayer (dir: string): Promise<WritableLayer> {
  await mkdir(dir, { recursive: true })
  let level: Kv
  try {
    level = await openLevelKv(join(dir, 'meta'))
  } catch (err) {
    if ((err as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED') throw new LayerBusyError(dir, { cause: err })
    throw err
  }
  const kv = cacheKv(level)
  return { dir, kv, close: async () => { await kv.close() } }
}
