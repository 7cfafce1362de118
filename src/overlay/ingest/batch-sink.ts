import type { CID } from 'multiformats/cid'
import { frameBlocksAsync, preparePayload, type PreparedChunk } from '../../cas/prepare.js'
import { keyOf } from '../../cas/store/guard.js'
import type { IngestSink } from './pool.js'

/** A sink whose batched put is the fast path (LocalStore: one index read per batch). */
export type BatchTarget = IngestSink & { putPreparedMany: (ps: readonly PreparedChunk[]) => unknown }

/**
 * Collects the tree nodes an import writes (`put`, from the writers on this thread) and
 * stores them `maxBlocks` at a time: in frames of neighbouring nodes when the target takes
 * frames (putFramesMany; nodes it already holds are left out first), else through
 * `putPreparedMany`. A per-block index lookup costs more than encoding the node. Nodes are
 * not readable from the target until flushed, which suits an import (it reads nothing back).
 * The CIDs come from the codec, so they are trusted. Call `flush()` before using the root.
 */
export class BatchingSink implements IngestSink {
  readonly #target: BatchTarget
  readonly #max: number
  #pending: Array<{ cid: CID, bytes: Uint8Array }> = []
  #keys = new Set<string>()

  constructor (target: BatchTarget, maxBlocks = 256) {
    this.#target = target
    this.#max = maxBlocks
  }

  get putPrepared (): IngestSink['putPrepared'] { return this.#target.putPrepared?.bind(this.#target) }
  get putPreparedMany (): IngestSink['putPreparedMany'] { return this.#target.putPreparedMany.bind(this.#target) }

  async put (cid: CID, bytes: Uint8Array): Promise<void> {
    const key = keyOf(cid)
    if (this.#keys.has(key)) return // the same node twice in a batch (e.g. equal empty directories)
    this.#keys.add(key)
    this.#pending.push({ cid, bytes })
    if (this.#pending.length >= this.#max) await this.flush()
  }

  /** Stores every collected node. */
  async flush (): Promise<void> {
    const batch = this.#pending
    this.#pending = []
    this.#keys = new Set()
    if (batch.length === 0) return
    const t = this.#target
    if (t.putFramesMany === undefined || t.missing === undefined) {
      await t.putPreparedMany(batch.map((b) => preparePayload(b.cid, b.bytes)))
      return
    }
    const lacking = new Set<string>()
    for await (const cid of t.missing(batch.map((b) => b.cid))) lacking.add(keyOf(cid))
    // Compressed on libuv's thread pool (native zstd), not on this thread, which stores the ingest threads' results.
    await t.putFramesMany(await frameBlocksAsync(batch.filter((b) => lacking.has(keyOf(b.cid)))))
  }
}

/** A BatchingSink over `sink` when it supports batches, else `sink` itself. */
export function batching (sink: IngestSink): { sink: IngestSink, flush: () => Promise<void> } {
  if (typeof sink.putPreparedMany !== 'function') return { sink, flush: async () => {} }
  const b = new BatchingSink(sink as BatchTarget)
  return { sink: b, flush: async () => { await b.flush() } }
}
