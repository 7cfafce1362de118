import type { CID } from 'multiformats/cid'
import { StoreClosedError } from '../errors.js'
import type { AbortOptions, AwaitIterable, ChunkStore } from '../interface.js'
import { verifyChunk } from '../verify.js'

/**
 * The reference ChunkStore: a Map in memory. Verifies every put; used by tests and as the
 * model the other stores are checked against (test/contract/chunk-store.ts).
 */
export class MemoryChunkStore implements ChunkStore {
  readonly #blocks = new Map<string, Uint8Array>()
  #closed = false

  get size (): number { return this.#blocks.size }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    this.#check(options)
    return this.#blocks.has(cid.toString())
  }

  async get (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    this.#check(options)
    const bytes = this.#blocks.get(cid.toString())
    return bytes === undefined ? undefined : new Uint8Array(bytes) // the caller owns what it gets
  }

  async put (cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    this.#check(options)
    verifyChunk(cid, bytes)
    const key = cid.toString()
    // new Uint8Array(x) copies; Buffer#slice would not (it is subarray).
    if (!this.#blocks.has(key)) this.#blocks.set(key, new Uint8Array(bytes))
  }

  async * missing (cids: AwaitIterable<CID>, options?: AbortOptions): AsyncIterable<CID> {
    for await (const cid of cids) {
      this.#check(options)
      if (!this.#blocks.has(cid.toString())) yield cid
    }
  }

  /** Every stored CID string (for tests and GC models). */
  keys (): IterableIterator<string> { return this.#blocks.keys() }

  async close (): Promise<void> { this.#closed = true }
  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  #check (options?: AbortOptions): void {
    if (this.#closed) throw new StoreClosedError()
    options?.signal?.throwIfAborted()
  }
}
