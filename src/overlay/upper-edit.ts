import type { CID } from 'multiformats/cid'
import { chunkLengths, CHUNKER_V1 } from '../cas/chunker/index.js'
import { cidForChunk } from '../cas/hasher.js'
import type { ChunkReader } from '../cas/interface.js'
import { getRequired } from './block-cache.js'
import { encodeJson, type KvTxn } from './kv.js'
import type { UpperNode } from './upper-node.js'
import { spanKey, spansOf, type Span } from './upper-spans.js'

/** Gaps up to this size are written as zero bytes; longer ones as shared all-zero chunks. */
const ZERO_RUN_BYTES = CHUNKER_V1.maxSize
const ZERO_CHUNK = new Uint8Array(ZERO_RUN_BYTES)
let zeroCid: CID | undefined

interface NewSpan extends Span { readonly bytes: Uint8Array }

/**
 * Replaces spans `old` of file `ino` by `fresh` in `txn`: key deletions before puts (a new
 * span may reuse an old end offset), references added before they are dropped (a chunk kept
 * by both must survive).
 */
async function replaceSpans (txn: KvTxn, ino: number, old: readonly Span[], fresh: readonly NewSpan[]): Promise<void> {
  for (const s of old) txn.del(spanKey(ino, s.start + s.size))
  for (const s of fresh) {
    txn.put(spanKey(ino, s.start + s.size), encodeJson({ c: s.cid.toString(), z: s.size }))
  }
  const delta = new Map<string, number>()
  for (const s of fresh) delta.set(s.cid.toString(), (delta.get(s.cid.toString()) ?? 0) + 1)
  for (const s of old) delta.set(s.cid.toString(), (delta.get(s.cid.toString()) ?? 0) - 1)
  const bytesOf = new Map(fresh.map((s) => [s.cid.toString(), s.bytes]))
  for (const [cid, d] of delta) {
    const raw = await txn.get(`r:${cid}`)
    let count = raw === undefined ? undefined : JSON.parse(Buffer.from(raw).toString()) as number
    if (count === undefined) {
      const bytes = bytesOf.get(cid)
      if (bytes === undefined) continue // a chunk of the shared store: not the layer's to count
      txn.put(`k:${cid}`, bytes)
      count = 0
    }
    count += d
    if (count > 0) txn.put(`r:${cid}`, encodeJson(count))
    else { txn.del(`r:${cid}`); txn.del(`k:${cid}`) }
  }
}

/** Turns a base-mode file (content by CID) into span records, reading index nodes only. */
async function materialize (txn: KvTxn, chunks: ChunkReader, ino: number, node: UpperNode): Promise<void> {
  if (node.sp === true) return
  for await (const s of spansOf(txn, chunks, ino, node)) {
    txn.put(spanKey(ino, s.start + s.size), encodeJson({ c: s.cid.toString(), z: s.size }))
  }
  node.sp = true
  delete node.b
}

function cut (bytes: Uint8Array, start: number): NewSpan[] {
  const out: NewSpan[] = []
  let at = 0
  for (const len of chunkLengths(bytes)) {
    const piece = bytes.slice(at, at + len)
    out.push({ start: start + at, size: len, cid: cidForChunk(piece), bytes: piece })
    at += len
  }
  return out
}

async function extendWithZeros (txn: KvTxn, ino: number, node: UpperNode, to: number): Promise<void> {
  zeroCid ??= cidForChunk(ZERO_CHUNK)
  const fresh: NewSpan[] = []
  while (to - node.z > ZERO_RUN_BYTES) {
    fresh.push({ start: node.z, size: ZERO_RUN_BYTES, cid: zeroCid, bytes: ZERO_CHUNK })
    node.z += ZERO_RUN_BYTES
  }
  await replaceSpans(txn, ino, [], fresh)
}

/**
 * Writes `data` at `offset` of file `ino` (node updated in place: size, span mode). Only the
 * chunks the write touches (and the tail chunk, for appends) are read and cut again.
 */
export async function writeFileRange (txn: KvTxn, chunks: ChunkReader, ino: number, node: UpperNode,
  offset: number, data: Uint8Array): Promise<void> {
  await materialize(txn, chunks, ino, node)
  if (offset > node.z) await extendWithZeros(txn, ino, node, offset)
  if (offset > node.z) {
    const gap = offset - node.z
    const joined = new Uint8Array(gap + data.length)
    joined.set(data, gap)
    data = joined
    offset = node.z
  }
  if (data.length === 0) return
  const end = offset + data.length
  const from = offset === node.z && offset > 0 ? offset - 1 : offset
  const old: Span[] = []
  for await (const s of spansOf(txn, chunks, ino, node, from, end)) old.push(s)
  // An append re-cuts the tail chunk with the new bytes, unless that chunk is already of
  // average size: small appends (logs) then rewrite at most ~64 KiB, not up to 256 KiB.
  if (offset === node.z && old.length === 1 && old[0].start + old[0].size === offset && old[0].size >= CHUNKER_V1.avgSize) old.pop()
  const regionStart = old.length > 0 ? Math.min(old[0].start, offset) : offset
  const last = old[old.length - 1]
  const regionEnd = Math.max(last !== undefined ? last.start + last.size : end, end)
  const buf = new Uint8Array(regionEnd - regionStart)
  for (const s of old) buf.set(await getRequired(chunks, s.cid), s.start - regionStart)
  buf.set(data, offset - regionStart)
  await replaceSpans(txn, ino, old, cut(buf, regionStart))
  node.z = Math.max(node.z, end)
}

/** Truncates or extends (with zeros) file `ino` to `size` bytes. */
export async function truncateFile (txn: KvTxn, chunks: ChunkReader, ino: number, node: UpperNode, size: number): Promise<void> {
  if (size === node.z) return
  await materialize(txn, chunks, ino, node)
  if (size > node.z) {
    await extendWithZeros(txn, ino, node, size)
    if (size > node.z) await writeFileRange(txn, chunks, ino, node, node.z, new Uint8Array(size - node.z))
    return
  }
  const old: Span[] = []
  for await (const s of spansOf(txn, chunks, ino, node, size)) old.push(s)
  const fresh: NewSpan[] = []
  const first = old[0]
  if (first !== undefined && first.start < size) {
    const bytes = (await getRequired(chunks, first.cid)).slice(0, size - first.start)
    fresh.push({ start: first.start, size: bytes.length, cid: cidForChunk(bytes), bytes })
  }
  await replaceSpans(txn, ino, old, fresh)
  node.z = size
}

/** Drops every span of a file being deleted (and the layer's chunks only it used). */
export async function dropFileContent (txn: KvTxn, chunks: ChunkReader, ino: number, node: UpperNode): Promise<void> {
  if (node.sp !== true) return
  const old: Span[] = []
  for await (const s of spansOf(txn, chunks, ino, node)) old.push(s)
  await replaceSpans(txn, ino, old, [])
}
