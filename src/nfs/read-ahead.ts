import type { ReadView } from '../overlay/index.js'
import type { NodeId } from './backend.js'

/** Files read sequentially at once whose next block is prefetched. */
const MAX_READAHEAD_STREAMS = 32

type Pieces = Uint8Array[]

/**
 * Sequential READ readahead: after a read that continues the previous one (or starts the file),
 * the next block of the same size is read from the view in the background, so it is ready when
 * the client asks (nfs-cat and the Linux client read one block after the other). A prefetched
 * block is used only at the same offset and size and in the same mutation generation. Blocks
 * come as the view's pieces (its cached chunks, not copied) where it can hand them out.
 */
export class ReadAhead {
  readonly #view: ReadView
  readonly #streams = new Map<NodeId, { end: bigint, next?: { offset: bigint, count: number, gen: number, data: Promise<Pieces | undefined> } }>()
  constructor (view: ReadView) { this.#view = view }

  async #read (path: string, offset: number, count: number): Promise<Pieces> {
    if (this.#view.readSlices !== undefined) return await this.#view.readSlices(path, offset, count)
    const bytes = await this.#view.read(path, offset, count)
    return bytes.length === 0 ? [] : [bytes]
  }

  async read (id: NodeId, path: string, offset: bigint, count: number, size: bigint, gen: number): Promise<Pieces> {
    const stream = this.#streams.get(id)
    const ahead = stream?.next
    let data: Pieces | undefined
    if (ahead !== undefined && ahead.offset === offset && ahead.count === count && ahead.gen === gen) data = await ahead.data
    data ??= await this.#read(path, Number(offset), count)
    let end = offset
    for (const d of data) end += BigInt(d.length)
    const sequential = offset === 0n || stream?.end === offset
    this.#streams.delete(id)
    if (sequential && end < size && count >= 65_536) {
      // Started after this reply is written (setImmediate runs after the microtasks that send
      // it): its chunk lookups would otherwise run between this READ's steps and delay it.
      const data = new Promise<Pieces>((resolve) => { setImmediate(() => { resolve(this.#read(path, Number(end), count)) }) })
      const next = { offset: end, count, gen, data: data.catch(() => undefined) }
      this.#streams.set(id, { end, next })
    } else {
      this.#streams.set(id, { end })
    }
    if (this.#streams.size > MAX_READAHEAD_STREAMS) this.#streams.delete(this.#streams.keys().next().value as NodeId)
    return data
  }
}
