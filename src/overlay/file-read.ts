import type { CID } from 'multiformats/cid'
import { RAW_CODEC } from '../cas/codes.js'
import type { ChunkReader } from '../cas/interface.js'
import { DecodedCache, getRequired, loadNode } from './block-cache.js'
import { decodeFileIndex } from './codec.js'
import { BadNodeError } from './errors.js'
import type { FilePart } from './interface.js'

/** A leaf of a file: a raw chunk, where it starts in the file, and its size. */
export interface ChunkSpan { readonly cid: CID, readonly offset: number, readonly size: number }

/** A decoded file index node with each part's start offset (the last entry is the total). */
interface IndexNode { readonly parts: FilePart[], readonly starts: number[] }

function indexNode (bytes: Uint8Array): IndexNode {
  const parts = decodeFileIndex(bytes)
  const starts = new Array<number>(parts.length + 1)
  let pos = 0
  for (let i = 0; i < parts.length; i++) { starts[i] = pos; pos += parts[i]!.size }
  starts[parts.length] = pos
  return { parts, starts }
}

/** Index of the last part starting at or before `at` (binary search: a sequential reader of a big file asks once per block). */
function partAt (starts: readonly number[], at: number): number {
  let lo = 0
  let hi = starts.length - 2
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (starts[mid]! <= at) lo = mid; else hi = mid - 1
  }
  return lo
}

/**
 * The parts of index node `cid` (its content at `base`, `size` bytes as its parent says) that
 * overlap [from, to), each with its position. Throws BadNodeError when the sizes disagree.
 */
function * partsOverlapping (cid: CID, { parts, starts }: IndexNode, base: number, size: number, from: number, to: number): Generator<[FilePart, number]> {
  const total = starts[parts.length]!
  if (total !== size) throw new BadNodeError(`file index ${cid} holds ${total} bytes, its parent says ${size}`)
  for (let i = partAt(starts, Math.max(0, from - base)); i < parts.length; i++) {
    const pos = base + starts[i]!
    if (pos >= to) return
    const part = parts[i]!
    if (pos + part.size > from) yield [part, pos]
  }
}

/** A reader that can tell what it holds in memory without waiting (ChunkCache). */
interface Peekable { peek (cid: CID): Uint8Array | undefined }

/** Reads file content (one raw chunk or a tree of file index nodes) of one store. */
export class FileReader {
  readonly #reader: ChunkReader
  readonly #index: DecodedCache<IndexNode>
  constructor (reader: ChunkReader, cacheSize = 4096, cacheBytes?: number) {
    this.#reader = reader
    this.#index = new DecodedCache(cacheSize, cacheBytes)
  }

  async #node (cid: CID): Promise<IndexNode> {
    return await loadNode(this.#reader, this.#index, cid, indexNode)
  }

  /**
   * The raw chunks covering [offset, offset + length) of content `cid` of `size` bytes, in
   * order. `cid` undefined means empty content. Index nodes are read, chunks are not.
   */
  async * spans (cid: CID | undefined, size: number, offset = 0, length = Infinity): AsyncIterable<ChunkSpan> {
    if (cid === undefined || offset >= size || length <= 0) return
    const end = Math.min(size, offset + length)
    yield * this.#spans(cid, 0, size, offset, end)
  }

  async * #spans (cid: CID, base: number, size: number, from: number, to: number): AsyncIterable<ChunkSpan> {
    if (cid.code === RAW_CODEC) { yield { cid, offset: base, size }; return }
    for (const [part, pos] of partsOverlapping(cid, await this.#node(cid), base, size, from, to)) yield * this.#spans(part.cid, pos, part.size, from, to)
  }

  /** Bytes [offset, offset+length) of the content, clipped at its end, in an array of the caller's own. Verified chunks only. */
  async read (cid: CID | undefined, size: number, offset: number, length: number): Promise<Uint8Array> {
    const pieces = await this.slices(cid, size, offset, length)
    let total = 0
    for (const p of pieces) total += p.length
    const out = new Uint8Array(total)
    let at = 0
    for (const p of pieces) { out.set(p, at); at += p.length }
    return out
  }

  /**
   * Bytes [offset, offset+length) of the content, clipped at its end, as views of its verified
   * chunks in order: nothing is copied, the chunks are fetched concurrently, and the arrays are
   * the reader's (a cache may share them), so callers must not modify them. Empty past the end.
   */
  async slices (cid: CID | undefined, size: number, offset: number, length: number): Promise<Uint8Array[]> {
    const end = Math.min(size, offset + length)
    if (cid === undefined || offset >= end) return []
    const spans: ChunkSpan[] = []
    for await (const span of this.spans(cid, size, offset, end - offset)) spans.push(span)
    const chunks = await Promise.all(spans.map(async (span) => await this.chunk(span)))
    return chunks.map((bytes, i) => {
      const span = spans[i]!
      return bytes.subarray(Math.max(offset, span.offset) - span.offset, Math.min(end, span.offset + span.size) - span.offset)
    })
  }

  /**
   * What `slices` returns, when every index node and chunk it needs is in memory now (the
   * reader's `peek`, a ChunkCache's), else undefined: a warm read without a promise per chunk
   * or an async step per index level.
   */
  slicesNow (cid: CID | undefined, size: number, offset: number, length: number): Uint8Array[] | undefined {
    const end = Math.min(size, offset + length)
    if (cid === undefined || offset >= end) return []
    const peek = (this.#reader as Partial<Peekable>).peek
    if (peek === undefined) return undefined
    const out: Uint8Array[] = []
    return this.#slicesNow(peek.bind(this.#reader), cid, 0, size, offset, end, out) ? out : undefined
  }

  /** Appends the pieces of [from, to) under `cid` (at `base`, of `size` bytes); false when something is not in memory. */
  #slicesNow (peek: Peekable['peek'], cid: CID, base: number, size: number, from: number, to: number, out: Uint8Array[]): boolean {
    if (cid.code === RAW_CODEC) {
      const bytes = peek(cid)
      if (bytes === undefined) return false
      if (bytes.length !== size) throw new BadNodeError(`chunk ${cid} is ${bytes.length} bytes, its index says ${size}`)
      out.push(bytes.subarray(Math.max(from, base) - base, Math.min(to, base + size) - base))
      return true
    }
    const node = this.#index.get(cid.toString())
    if (node === undefined) return false
    for (const [part, pos] of partsOverlapping(cid, node, base, size, from, to)) if (!this.#slicesNow(peek, part.cid, pos, part.size, from, to, out)) return false
    return true
  }

  /** The bytes of one span's chunk, checked against the size its index promised. */
  async chunk (span: ChunkSpan): Promise<Uint8Array> {
    const bytes = await getRequired(this.#reader, span.cid)
    if (bytes.length !== span.size) throw new BadNodeError(`chunk ${span.cid} is ${bytes.length} bytes, its index says ${span.size}`)
    return bytes
  }

  /** The whole content as a stream of chunks, in order. */
  async * stream (cid: CID | undefined, size: number): AsyncIterable<Uint8Array> {
    for await (const span of this.spans(cid, size)) yield await this.chunk(span)
  }
}
