import type { ReadView } from '../overlay/index.js'
import type { NodeId } from './backend.js'

/** Files read sequentially at once whose next block is prefetched. */
const MAX_READAHEAD_STREAMS = 32

/**
 * Sequential READ readahead: after a read that continues the previous one (or starts the file),
 * the next block of the same size is read from the view in the background, so it is ready when
 * the client asks (nfs-cat and the Linux client read one block after the other). A prefetched
 * block is used only at the same offset and size and in the same mutation generation.
 */
export class ReadAhead {
  readonly #view: ReadView
  readonly #streams = new Map<NodeId, { end: bigint, next?: { offset: bigint, count: number, gen: number, data: Promise<Uint8Array | undefined> } }>()
  constructor (view: ReadView) { this.#view = view }

  async read (id: NodeId, path: string, offset: bigint, count: number, size: bigint, gen: number): Promise<Uint8Array> {
    const stream = this.#streams.get(id)
    const ahead = stream?.next
    let data: Uint8Array | undefined
    if (ahead !== undefined && ahead.offset === offset && ahead.count === count && ahead.gen === gen) data = await ahead.data
    data ??= await this.#view.read(path, Number(offset), count)
    const end = offset + BigInt(data.length)
    const sequential = offset === 0n || stream?.end === offset
    this.#streams.delete(id)
    if (sequential && end < size && count >= 65_536) {
      const next = { offset: end, count, gen, data: this.#view.read(path, Number(end), count).catch(() => undefined) }
      this.#streams.set(id, { end, next })
      if (this.#streams.size > MAX_READAHEAD_STREAMS) this.#streams.delete(this.#streams.keys().next().value as NodeId)
    } else {
      this.#streams.set(id, { end })
      if (this.#streams.size > MAX_READAHEAD_STREAMS) this.#streams.delete(this.#streams.keys().next().value as NodeId)
    }
    return data
  }
}
