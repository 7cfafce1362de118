import type { CID } from 'multiformats/cid'

export type AwaitIterable<T> = Iterable<T> | AsyncIterable<T>
export interface AbortOptions { signal?: AbortSignal }

/**
 * Splits a byte stream into chunks. Pure: no hashing, no I/O. Every yielded array belongs
 * to the caller (never a view into a buffer the chunker reuses).
 */
export type Chunker = (source: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>

export interface ChunkReader {
  has (cid: CID, options?: AbortOptions): Promise<boolean>
  /** Resolves `undefined` when absent. Rejects with ChunkInvalidError if stored bytes fail their hash. */
  get (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined>
}

export interface Block { readonly cid: CID, readonly bytes: Uint8Array }

export interface ChunkWriter {
  /** Idempotent. Rejects with ChunkInvalidError if `bytes` do not hash to `cid`. */
  put (cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void>
  /**
   * Optional batch put with the same contract as put for each block (verified, idempotent),
   * for stores that store neighbours better together (LocalStore compresses them as frames).
   * Resolves how many blocks were new. Use putBlocks (put-blocks.ts), which falls back to put.
   */
  putMany? (blocks: readonly Block[], options?: PutManyOptions): Promise<number>
}

export interface PutManyOptions extends AbortOptions {
  /**
   * The caller has checked every block against its CID already (decodeCar does, as blocks
   * arrive), so the store need not hash them again. Only for blocks verified by the caller.
   */
  verified?: boolean
}

export interface ChunkStore extends ChunkReader, ChunkWriter {
  /** Yields the CIDs from `cids` that this store lacks, in input order. */
  missing (cids: AwaitIterable<CID>, options?: AbortOptions): AsyncIterable<CID>
  close (): Promise<void>
  [Symbol.asyncDispose] (): Promise<void>
}
