import type { CID } from 'multiformats/cid'
import type { AbortOptions, ChunkReader } from '../cas/interface.js'
import { ChunkMissingError } from '../cas/errors.js'
import { encodeCar, type Block } from './car.js'
import { PeerRejectedError, PeerUnreachableError } from './errors.js'
import type { Peer } from './http.js'
import { findMissing } from './missing.js'
import { bitAt, decodeMessage, encodeMessage, MEDIA, packCids, ROUTES, type HasResponse, type UploadResult } from './protocol.js'
import { walkTree } from './walk.js'
import { compressStream, decompressStream, transferLevel, WAN_LATENCY_MS, ZSTD_ENCODING } from './zstd-stream.js'

/** What a push or pull moved. `wireBytes` is every byte on the TCP connections, both ways. */
export interface TransferResult {
  readonly root: CID
  /** Blocks sent (push) or received (pull), and the bytes of blocks on the wire (deltas count compressed). */
  readonly blocks: number
  readonly blockBytes: number
  /** Blocks of the tree the destination already had. */
  readonly present: number
  readonly requests: number
  readonly bytesSent: number
  readonly bytesReceived: number
  readonly wireBytes: number
  /** zstd level of the block streams (0: uncompressed, or nothing moved); deltas go at a level of their own (routes-blocks.ts). */
  readonly zstdLevel: number
}

export interface TransferOptions extends AbortOptions {
  /** CIDs per has/want request (default 16,384; the server allows 65,536). */
  batchSize?: number
  /** Block bytes per uploaded CAR before a new request starts (default 256 MiB). */
  maxCarBytes?: number
  /** Called with the bytes of each block sent or received. */
  onBlock?: (bytes: number) => void
  /** Called once the number of blocks to move is known. */
  onPlan?: (blocks: number) => void
}

const DEFAULT_BATCH = 16_384
const DEFAULT_CAR_BYTES_256MIB = 256 * 1024 * 1024

/** Asks the peer which of `cids` it holds (one request). */
export async function peerHas (peer: Peer, cids: CID[], options: AbortOptions = {}): Promise<boolean[]> {
  const bytes = await peer.fetchBytes('POST', ROUTES.has, { body: encodeMessage({ v: 1, cids: packCids(cids) }), contentType: MEDIA.msgpack, signal: options.signal, measuresLatency: true })
  const answer = decodeMessage<HasResponse>(bytes)
  if (answer.count !== cids.length) throw new PeerRejectedError(502, 'SYNC_BAD_ANSWER', 'store answered `has` for the wrong number of CIDs')
  return cids.map((_c, i) => bitAt(answer.have, i))
}

export function finish (root: CID, peer: Peer, before: Peer['stats'], blocks: number, blockBytes: number, present: number, zstdLevel: number): TransferResult {
  const s = peer.stats
  const sent = s.bytesSent - before.bytesSent
  const received = s.bytesReceived - before.bytesReceived
  return { root, blocks, blockBytes, present, requests: s.requests - before.requests, bytesSent: sent, bytesReceived: received, wireBytes: sent + received, zstdLevel }
}

/**
 * Sends the tree `root` from `local` to the peer: walks the whole tree locally (rejects with
 * ChunkMissingError if it is incomplete), asks `has` in batches, and uploads only what the
 * peer lacks in one CAR stream per `maxCarBytes`. Safe to re-run after an interruption: the
 * peer keeps every verified block it got, and the next run asks again.
 */
export async function push (local: ChunkReader, root: CID, peer: Peer, options: TransferOptions = {}): Promise<TransferResult> {
  const before = peer.stats
  const all: CID[] = []
  const missing: CID[] = []
  const tree = async function * (): AsyncIterable<CID> { for await (const c of walkTree(local, root, options)) { all.push(c); yield c } }
  for await (const cid of findMissing(tree(), (b) => peerHas(peer, b, options), { batchSize: options.batchSize ?? DEFAULT_BATCH, signal: options.signal })) missing.push(cid)
  options.onPlan?.(missing.length)
  const limit = options.maxCarBytes ?? DEFAULT_CAR_BYTES_256MIB
  let next = 0
  let blockBytes = 0
  const level = missing.length > 0 ? await peerLevel(peer, options.signal) : 0
  // Children before parents is not needed for correctness; upload in walk order, in segments.
  while (next < missing.length) {
    let segmentBytes = 0
    const segment = async function * (): AsyncIterable<Block> {
      while (next < missing.length && segmentBytes < limit) {
        options.signal?.throwIfAborted()
        const cid = missing[next]
        const bytes = await local.get(cid, options)
        if (bytes === undefined) throw new ChunkMissingError(cid)
        next++
        segmentBytes += bytes.length
        blockBytes += bytes.length
        options.onBlock?.(bytes.length)
        yield { cid, bytes }
      }
    }
    const answer = decodeMessage<UploadResult>(await peer.fetchBytes('PUT', ROUTES.blocks, { ...carBody(encodeCar([root], segment()), level), signal: options.signal }))
    if (answer.blocks === 0 && segmentBytes > 0) throw new PeerRejectedError(502, 'SYNC_BAD_ANSWER', 'store accepted no blocks')
  }
  return finish(root, peer, before, missing.length, blockBytes, all.length - missing.length, level)
}

/**
 * The zstd level of a transfer with `peer`: XENO_SYNC_ZSTD_LEVEL when set, else by the link
 * (transferLevel) after measuring its round trip with cheap requests when none measured it
 * short yet. The `has` requests before an upload are no measure on their own: the first ones
 * a freshly started store answers take it tens of milliseconds even on loopback, which looked
 * like a wide-area link and made a LAN push compress at level 19.
 */
export async function peerLevel (peer: Peer, signal?: AbortSignal): Promise<number> {
  if (process.env.XENO_SYNC_ZSTD_LEVEL === undefined || process.env.XENO_SYNC_ZSTD_LEVEL === '') await peer.probeLatency(signal, WAN_LATENCY_MS)
  return transferLevel(peer.latencyMs)
}

/** Request options of an upload of `car`, zstd-compressed at `level` (peerLevel) unless 0. */
export function carBody (car: AsyncIterable<Uint8Array>, level: number): { body: AsyncIterable<Uint8Array>, contentType: string, headers: Record<string, string> } {
  if (level === 0) return { body: car, contentType: MEDIA.car, headers: {} }
  return { body: compressStream(car, level), contentType: MEDIA.car, headers: { 'content-encoding': ZSTD_ENCODING } }
}

/** Sends a want request; resolves the CAR bytes of the answer (decompressed when the peer compressed it). */
export async function wantStream (peer: Peer, body: object, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
  const level = await peerLevel(peer, signal)
  const headers: Record<string, string> = level === 0 ? {} : { 'accept-encoding': ZSTD_ENCODING, 'x-xeno-zstd-level': String(level) }
  const res = await peer.request('POST', ROUTES.want, { body: encodeMessage({ v: 1, ...body }), contentType: MEDIA.msgpack, headers, signal })
  const raw = async function * (): AsyncIterable<Uint8Array> {
    try { yield * res } catch (err) { throw new PeerUnreachableError('connection broke during the transfer (re-run to resume)', { cause: err }) }
  }
  return res.headers['content-encoding'] === ZSTD_ENCODING ? decompressStream(raw()) : raw()
}
