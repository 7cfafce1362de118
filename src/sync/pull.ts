import type { CID } from 'multiformats/cid'
import { ChunkMissingError } from '../cas/errors.js'
import { matchesCid } from '../cas/hasher.js'
import type { AbortOptions, Block, ChunkStore } from '../cas/interface.js'
import { BlockBatcher, putBlocks } from '../cas/put-blocks.js'
import { linksOf } from '../overlay/codec.js'
import { decodeCar } from './car.js'
import { finish, wantStream, type TransferOptions, type TransferResult } from './client.js'
import { decompressWithReferenceAsync } from '../cas/compress.js'
import { decodeDeltaBlock, type DeltaBlock } from './delta.js'
import { IncompleteTransferError } from './errors.js'
import type { Peer } from './http.js'
import { packCids } from './protocol.js'
import { isNode } from './walk.js'
import { transferLevel } from './zstd-stream.js'

const DEFAULT_BATCH = 16_384
/** Deltas being expanded at once by one want answer. */
const DELTAS_IN_FLIGHT = 4
/** Tree nodes read at once while walking a level. */
const NODES_IN_FLIGHT = 16

/**
 * Streams a want answer into `store`, every block verified; resolves the CIDs received and
 * the bytes of blocks that crossed the wire. With `deltas`, delta blocks are expanded
 * against the local store (see delta.ts) and only their verified chunks are stored.
 */
async function receive (peer: Peer, body: object, store: ChunkStore, options: TransferOptions, deltas = false): Promise<{ got: Set<string>, bytes: number }> {
  const source = await wantStream(peer, body, options.signal)
  const got = new Set<string>()
  const batcher = new BlockBatcher(store, { verified: true }) // decodeCar checked every block
  const stored = (blocks: readonly Block[]): void => { for (const b of blocks) got.add(b.cid.toString()) }
  // Deltas expand while the stream goes on: their reads, decompression and storing run on
  // the thread pool, so several at once keep both cores busy (t1 -> t1-upgraded: 628 deltas).
  const applying = new Set<Promise<void>>()
  let failure: { error: unknown } | undefined
  const settle = async (limit: number): Promise<void> => {
    while (applying.size > limit) await Promise.race(applying)
    if (failure !== undefined) throw failure.error
  }
  let bytes = 0
  try {
    for await (const block of decodeCar(source)) {
      bytes += block.bytes.length
      options.onBlock?.(block.bytes.length)
      const delta = deltas ? decodeDeltaBlock(block) : undefined
      if (delta !== undefined) {
        stored(await batcher.flush(options)) // its base chunks may be among them
        await settle(DELTAS_IN_FLIGHT - 1)
        const applied: Promise<void> = applyDelta(store, delta, options).then(
          (cids) => { for (const cid of cids) got.add(cid.toString()) },
          (error: unknown) => { failure ??= { error } }
        ).finally(() => applying.delete(applied))
        applying.add(applied)
        continue
      }
      stored(await batcher.add(block, options))
    }
  } finally {
    // What was verified stays stored, also when the stream broke or the pull was cancelled
    // (no signal here: a re-run then fetches only the rest).
    await Promise.all(applying)
    stored(await batcher.flush())
  }
  if (failure !== undefined) throw failure.error
  return { got, bytes }
}

/** Rebuilds the chunks of a delta from the local base chunks; resolves those verified and stored (none when the base is not local or the delta is bad). */
async function applyDelta (store: ChunkStore, delta: DeltaBlock, options: AbortOptions): Promise<CID[]> {
  const refs: Uint8Array[] = []
  for (const cid of delta.refs) {
    const bytes = await store.get(cid, options).catch(() => undefined)
    if (bytes === undefined) return []
    refs.push(bytes)
  }
  let plain: Uint8Array
  const size = delta.targets.reduce((n, t) => n + t.size, 0)
  try { plain = await decompressWithReferenceAsync(delta.z, Buffer.concat(refs), size) } catch { return [] }
  const verified: Block[] = []
  let off = 0
  for (const t of delta.targets) {
    const bytes = plain.subarray(off, off + t.size)
    off += t.size
    if (bytes.length !== t.size || !matchesCid(t.cid, bytes)) continue
    verified.push({ cid: t.cid, bytes })
  }
  await putBlocks(store, verified, { signal: options.signal, verified: true }) // each checked above
  return verified.map((b) => b.cid)
}

/**
 * Fetches the tree `root` from the peer into `store`: first the tree nodes (one closure
 * request when the root is new, skipping the subtrees of `base` that the client already
 * holds; then level by level for whatever is still missing), then exactly the chunks `store`
 * lacks, in want-lists of `batchSize` answered by one CAR stream each. Every block is
 * verified before it is stored, and stays stored if the transfer breaks, so a re-run fetches
 * only the rest. Rejects with IncompleteTransferError if the peer lacks blocks of the tree.
 */
export async function pull (store: ChunkStore, root: CID, peer: Peer, options: TransferOptions & { base?: CID } = {}): Promise<TransferResult> {
  const before = peer.stats
  const batch = options.batchSize ?? DEFAULT_BATCH
  let blocks = 0
  let blockBytes = 0
  let present = 0
  const want = async (cids: CID[], deltas = false): Promise<void> => {
    for (let i = 0; i < cids.length; i += batch) {
      const part = cids.slice(i, i + batch)
      const extra = deltas && options.base !== undefined ? { base: options.base.bytes, root: root.bytes } : {}
      const { got, bytes } = await receive(peer, { cids: packCids(part), ...extra }, store, options, deltas)
      blocks += part.filter((c) => got.has(c.toString())).length; blockBytes += bytes
      const lacking = part.filter((c) => !got.has(c.toString()))
      // A delta that could not be applied here (base chunk absent or corrupt): ask for the plain blocks.
      if (lacking.length > 0 && deltas) { await want(lacking, false); continue }
      if (lacking.length > 0) throw new IncompleteTransferError(`store lacks ${lacking.length} blocks of ${root} (first: ${lacking[0]})`)
    }
  }
  if (!await store.has(root, options)) {
    const { got, bytes } = await receive(peer, { root: root.bytes, ...(options.base !== undefined ? { base: options.base.bytes } : {}) }, store, options)
    blocks += got.size; blockBytes += bytes
    present -= got.size
  }
  const leaves: CID[] = []
  const seen = new Set<string>([root.toString()])
  let level: CID[] = [root]
  while (level.length > 0) {
    const lacking = await collect(store.missing(level, options))
    await want(lacking)
    present += level.length - lacking.length
    const next: CID[] = []
    for (let i = 0; i < level.length; i += NODES_IN_FLIGHT) {
      const slice = level.slice(i, i + NODES_IN_FLIGHT)
      const nodes = await Promise.all(slice.map(async (cid) => await store.get(cid, options)))
      for (let j = 0; j < slice.length; j++) {
        const cid = slice[j]
        const bytes = nodes[j]
        if (bytes === undefined) throw new ChunkMissingError(cid)
        for (const link of linksOf(cid, bytes)) {
          const key = link.toString()
          if (seen.has(key)) continue
          seen.add(key)
          if (isNode(link)) next.push(link); else leaves.push(link)
        }
      }
    }
    level = next
  }
  const lackingLeaves = await collect(store.missing(leaves, options))
  present += leaves.length - lackingLeaves.length
  options.onPlan?.(lackingLeaves.length)
  await want(lackingLeaves, options.base !== undefined)
  return finish(root, peer, before, blocks, blockBytes, present, blocks > 0 ? transferLevel(peer.latencyMs) : 0) // the level the wants asked for
}

async function collect<T> (source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of source) out.push(x)
  return out
}

