import type { FileContent, ReadView } from '../overlay/index.js'
import type { NodeId } from './backend.js'

/** Files read sequentially at once whose next block is prefetched. */
const MAX_READAHEAD_STREAMS = 32

type Pieces = Uint8Array[]

/** What is remembered of a file being read: where its last read ended, its content, the prefetched next block. */
interface Stream {
  end: bigint
  /** The mutation generation `content` belongs to. */
  gen: number
  /** The file's immutable content (null: it has none, e.g. it lies in the writable layer). */
  content: FileContent | null
  next?: { offset: bigint, count: number, data: Promise<Pieces | undefined> }
}

/**
 * Sequential READ readahead: after a read that continues the previous one (or starts the file),
 * the next block of the same size is read from the view in the background, so it is ready when
 * the client asks (nfs-cat and the Linux client read one block after the other). A prefetched
 * block is used only at the same offset and size and in the same mutation generation. Blocks
 * come as the view's pieces (its cached chunks, not copied) where it can hand them out.
 *
 * A file of an immutable layer is resolved once per stream and generation (the view's
 * `fileContent`), and a block whose chunks are all in memory is answered at once, without a
 * promise per chunk and without prefetching the next one: a warm 1 MiB READ then costs a few
 * map lookups, and the server goes back to waiting as soon as the reply is written instead
 * of looking the next block up first (with client and server on one core, that work delayed
 * the client's receiving every reply).
 */
export class ReadAhead {
  readonly #view: ReadView
  readonly #streams = new Map<NodeId, Stream>()
  constructor (view: ReadView) { this.#view = view }

  async #read (content: FileContent | null, path: string, offset: number, count: number): Promise<Pieces> {
    if (content !== null) return await content.slices(offset, count)
    if (this.#view.readSlices !== undefined) return await this.#view.readSlices(path, offset, count)
    const bytes = await this.#view.read(path, offset, count)
    return bytes.length === 0 ? [] : [bytes]
  }

  async read (id: NodeId, path: string, offset: bigint, count: number, size: bigint, gen: number): Promise<Pieces> {
    const stream = this.#streams.get(id)
    const same = stream !== undefined && stream.gen === gen
    const content = same ? stream.content : (await this.#view.fileContent?.(path)) ?? null
    const ahead = same ? stream.next : undefined
    const prefetched = ahead !== undefined && ahead.offset === offset && ahead.count === count
    let data = content?.now(Number(offset), count)
    // Prefetching goes on while it is what keeps the blocks ready (a cold read), whether or not
    // this one's prefetch has finished; a block found in memory without one starts none.
    const prefetch = data === undefined || prefetched
    if (data === undefined) {
      if (prefetched) data = await ahead.data
      data ??= await this.#read(content, path, Number(offset), count)
    }
    let end = offset
    for (const d of data) end += BigInt(d.length)
    const sequential = offset === 0n || stream?.end === offset
    this.#streams.delete(id)
    const next: Stream = { end, gen, content }
    if (prefetch && sequential && end < size && count >= 65_536) {
      // Started after this reply is written (setImmediate runs after the microtasks that send
      // it): its chunk lookups would otherwise run between this READ's steps and delay it.
      const data = new Promise<Pieces>((resolve) => { setImmediate(() => { resolve(this.#read(content, path, Number(end), count)) }) })
      next.next = { offset: end, count, data: data.catch(() => undefined) }
    }
    this.#streams.set(id, next)
    if (this.#streams.size > MAX_READAHEAD_STREAMS) this.#streams.delete(this.#streams.keys().next().value as NodeId)
    return data
  }
}
