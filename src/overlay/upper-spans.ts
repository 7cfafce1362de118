import { CID } from 'multiformats/cid'
import type { ChunkReader } from '../cas/interface.js'
import { getRequired } from './block-cache.js'
import { FileReader } from './file-read.js'
import { BadNodeError } from './errors.js'
import { decodeJson, type KvReader } from './kv.js'
import type { UpperNode } from './upper-node.js'

/** One chunk of a written file: bytes [start, start + size) are chunk `cid`. */
export interface Span { readonly start: number, readonly size: number, readonly cid: CID }

const hex = (n: number): string => n.toString(16).padStart(13, '0')

/** Spans are keyed by their END offset, so the first key past `offset` is the span holding it. */
export function spanKey (ino: number, end: number): string { return `s:${ino}:${hex(end)}` }
export function spanPrefix (ino: number): [string, string] { return [`s:${ino}:`, `s:${ino};`] }

/** Chunks of the writable layer itself (`k:<cid>`) first, then the shared store. */
export class LayerChunks implements ChunkReader {
  readonly #kv: KvReader
  readonly #store: ChunkReader
  constructor (kv: KvReader, store: ChunkReader) { this.#kv = kv; this.#store = store }
  /** The shared store (where copied-up lower content lives). */
  get store (): ChunkReader { return this.#store }
  async has (cid: CID): Promise<boolean> { return (await this.#kv.get(`k:${cid}`)) !== undefined || await this.#store.has(cid) }
  async get (cid: CID): Promise<Uint8Array | undefined> { return (await this.#kv.get(`k:${cid}`)) ?? await this.#store.get(cid) }
}

const baseReaders = new WeakMap<ChunkReader, FileReader>()

/** A FileReader (with its index-node cache) per store, for content copied up by CID. */
function baseReader (chunks: ChunkReader): FileReader {
  const store = chunks instanceof LayerChunks ? chunks.store : chunks
  let r = baseReaders.get(store)
  if (r === undefined) { r = new FileReader(store, 256); baseReaders.set(store, r) }
  return r
}

/**
 * The spans of file `ino` (node `node`) overlapping [from, to), in order. A file still in
 * base mode yields its lower chunk list (index nodes are read, chunks are not).
 */
export async function * spansOf (kv: KvReader, chunks: ChunkReader, ino: number, node: UpperNode,
  from = 0, to = Infinity): AsyncIterable<Span> {
  if (node.sp !== true) {
    if (node.b === undefined) return
    for await (const s of baseReader(chunks).spans(CID.parse(node.b), node.z, from, to - from)) {
      yield { start: s.offset, size: s.size, cid: s.cid }
    }
    return
  }
  const [, lt] = spanPrefix(ino)
  for await (const [key, raw] of kv.range(spanKey(ino, from + 1), lt)) {
    const end = parseInt(key.slice(key.lastIndexOf(':') + 1), 16)
    const { c, z } = decodeJson<{ c: string, z: number }>(raw)
    if (end - z >= to) return
    yield { start: end - z, size: z, cid: CID.parse(c) }
  }
}

/** Bytes [offset, offset+length) of a file of the writable layer, clipped at its end. */
export async function readUpperFile (kv: KvReader, chunks: ChunkReader, ino: number, node: UpperNode,
  offset: number, length: number): Promise<Uint8Array> {
  const end = Math.min(node.z, offset + length)
  if (offset >= end) return new Uint8Array(0)
  const out = new Uint8Array(end - offset)
  let covered = offset
  for await (const span of spansOf(kv, chunks, ino, node, offset, end)) {
    const bytes = await getRequired(chunks, span.cid)
    if (bytes.length !== span.size) throw new BadNodeError(`chunk ${span.cid} is ${bytes.length} bytes, expected ${span.size}`)
    if (span.start > covered) throw new BadNodeError(`writable layer file ${ino} has a gap at ${covered}`)
    const from = Math.max(offset, span.start)
    const to = Math.min(end, span.start + span.size)
    out.set(bytes.subarray(from - span.start, to - span.start), from - offset)
    covered = to
  }
  if (covered < end) throw new BadNodeError(`writable layer file ${ino} ends at ${covered}, expected ${end}`)
  return out
}
