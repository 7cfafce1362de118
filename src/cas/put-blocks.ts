import type { AbortOptions, Block, ChunkReader, ChunkWriter } from './interface.js'
import { STORE_FRAME_RAW_BYTES } from './prepare.js'

/** Where received blocks go: a store that can say what it has and take blocks. */
type BlockTarget = ChunkReader & ChunkWriter

/** Stores `blocks` with one putMany when the store has it, else one put each. Resolves how many were new. */
export async function putBlocks (store: BlockTarget, blocks: readonly Block[], options?: AbortOptions): Promise<number> {
  if (store.putMany !== undefined) return await store.putMany(blocks, options)
  let stored = 0
  for (const b of blocks) {
    if (await store.has(b.cid, options)) continue
    await store.put(b.cid, b.bytes, options)
    stored++
  }
  return stored
}

/**
 * Gathers blocks arriving one by one (a CAR stream of a pull or a push) and stores them about
 * a frame's worth at a time (putBlocks), so a store that frames neighbours (LocalStore) sees
 * them together. Blocks are not readable from the store until flushed: a receiver calls
 * flush() before it reports blocks as stored, and also when the stream fails, so everything
 * verified so far stays.
 */
export class BlockBatcher {
  readonly #store: BlockTarget
  readonly #limit: number
  #blocks: Block[] = []
  #bytes = 0
  #stored = 0

  constructor (store: BlockTarget, limitBytes = STORE_FRAME_RAW_BYTES) {
    this.#store = store; this.#limit = limitBytes
  }

  /** Adds a block (kept by reference: the caller must not modify `bytes`); stores the batch when it is full. Resolves the blocks stored by that, if any. */
  async add (block: Block, options?: AbortOptions): Promise<readonly Block[]> {
    this.#blocks.push(block)
    this.#bytes += block.bytes.length
    return this.#bytes >= this.#limit ? await this.flush(options) : []
  }

  /** Stores what is gathered. Resolves the blocks it stored (new or already present). */
  async flush (options?: AbortOptions): Promise<readonly Block[]> {
    const batch = this.#blocks
    this.#blocks = []; this.#bytes = 0
    if (batch.length > 0) this.#stored += await putBlocks(this.#store, batch, options)
    return batch
  }

  /** How many of the blocks flushed so far were new to the store (see putBlocks). */
  get stored (): number { return this.#stored }
}
