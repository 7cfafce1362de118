import type { CID } from 'multiformats/cid'
import { RAW_CODEC } from '../cas/codes.js'
import type { ChunkReader } from '../cas/interface.js'
import { DecodedCache, getRequired, loadNode } from './block-cache.js'
import { decodeFileIndex } from './codec.js'
import { BadNodeError } from './errors.js'
import type { FilePart } from './interface.js'

/** A leaf of a file: a raw chunk, where it starts in the file, and its size. */
export interface ChunkSpan { readonly cid: CID, readonly offset: number, readonly size: number }

/** Reads file content (one raw chunk or a tree of file index nodes) of one store. */
export class FileReader {
  readonly #reader: ChunkReader
  readonly #index: DecodedCache<FilePart[]>
  constructor (reader: ChunkReader, cacheSize = 4096) {
    this.#reader = reader
    this.#index = new DecodedCache(cacheSize)
  }

  async #parts (cid: CID): Promise<FilePart[]> {
    return await loadNode(this.#reader, this.#index, cid, decodeFileIndex)
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
    let pos = base
    let total = 0
    const parts = await this.#parts(cid)
    for (const p of parts) total += p.size
    if (total !== size) throw new BadNodeError(`file index ${cid} holds ${total} bytes, its parent says ${size}`)
    for (const part of parts) {
      const partEnd = pos + part.size
      if (partEnd > from && pos < to) yield * this.#spans(part.cid, pos, part.size, from, to)
      if (partEnd >= to) return
      pos = partEnd
    }
  }

  /** Bytes [offset, offset+length) of the content, clipped at its end. Verified chunks only. */
  async read (cid: CID | undefined, size: number, offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(size, offset + length)
    if (cid === undefined || offset >= end) return new Uint8Array(0)
    const out = new Uint8Array(end - offset)
    for await (const span of this.spans(cid, size, offset, end - offset)) {
      const bytes = await this.chunk(span)
      const from = Math.max(offset, span.offset)
      const to = Math.min(end, span.offset + span.size)
      out.set(bytes.subarray(from - span.offset, to - span.offset), from - offset)
    }
    return out
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
