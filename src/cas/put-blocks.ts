import type { AbortOptions, Block, ChunkReader, ChunkWriter, PutManyOptions } from './interface.js'
import { STORE_FRAME_RAW_BYTES } from './prepare.js'

/** Where received blocks go: a store that can say what it has and take blocks. */
type BlockTarget = ChunkReader & ChunkWriter

/** Stores `blocks` with one putMany when the store has it, else one put each. Resolves how many were new. */
export async function putBlocks (store: BlockTarget, blocks: readonly Block[], options?: PutManyOptions): Promise<number> {
  if (store.putMany !== undefined) return await store.putMany(blocks, options)
  let stored = 0
  for (const b of blocks) {
    if (await store.has(b.cid, options)) continue
    await store.put(b.cid, b.bytes, options)
    stored++
  }
  return stored
}

export interface BlockBatcherOptions {
  /** Block bytes gathered before a batch is stored (default four store frames: LocalStore compresses them in parallel). */
  readonly limitBytes?: number
  /** Every block added was checked against its CID by the caller (decodeCar): the store need not hash it again. */
  readonly verified?: boolean
}

/**
 * Gathers blocks arriving one by one (a CAR stream of a pull or a push) and stores them a few
 * frames' worth at a time (putBlocks), so a store that frames neighbours (LocalStore) sees
 * them together. One batch is stored while the next is gathered (a LocalStore compresses its
 * frames off the event loop meanwhile), so at most two batches are held. Blocks are not
 * readable from the store until flushed: a receiver calls flush() before it reports blocks as
 * stored, and also when the stream fails, so everything verified so far stays.
 */
export class BlockBatcher {
  readonly #store: BlockTarget
  readonly #limit: number
  readonly #verified: boolean
  #blocks: Block[] = []
  #bytes = 0
  #stored = 0
  /** The batch being stored, resolving its blocks. */
  #storing: Promise<readonly Block[]> | undefined

  constructor (store: BlockTarget, options: BlockBatcherOptions = {}) {
    this.#store = store
    this.#limit = options.limitBytes ?? 4 * STORE_FRAME_RAW_BYTES
    this.#verified = options.verified === true
  }

  /**
   * Adds a block (kept by reference: the caller must not modify `bytes`). When the batch is
   * full it starts storing it, after the previous batch is stored; resolves the blocks of that
   * previous batch, if any.
   */
  async add (block: Block, options?: AbortOptions): Promise<readonly Block[]> {
    this.#blocks.push(block)
    this.#bytes += block.bytes.length
    if (this.#bytes < this.#limit) return []
    const previous = await this.#settle()
    const storing = this.#put(this.#take(), options)
    storing.catch(() => {}) // awaited by the next add or flush
    this.#storing = storing
    return previous
  }

  /** Stores everything gathered, waiting for the batch in flight. Resolves the blocks stored since the last answer (new or already present). */
  async flush (options?: AbortOptions): Promise<readonly Block[]> {
    const previous = await this.#settle()
    const last = await this.#put(this.#take(), options)
    return previous.length === 0 ? last : [...previous, ...last]
  }

  /** How many of the blocks flushed so far were new to the store (see putBlocks). */
  get stored (): number { return this.#stored }

  async #settle (): Promise<readonly Block[]> {
    const storing = this.#storing
    this.#storing = undefined
    return storing === undefined ? [] : await storing
  }

  #take (): Block[] {
    const batch = this.#blocks
    this.#blocks = []; this.#bytes = 0
    return batch
  }

  async #put (batch: Block[], options?: AbortOptions): Promise<readonly Block[]> {
    if (batch.length > 0) this.#stored += await putBlocks(this.#store, batch, { signal: options?.signal, verified: this.#verified })
    return batch
  }
}
