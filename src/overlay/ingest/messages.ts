import type { CID } from 'multiformats/cid'
import { cidFromBytes } from '../../cas/hasher.js'
import type { PreparedFrame } from '../../cas/prepare.js'
import { keyOf, keyOfBytes } from '../../cas/store/guard.js'
import { CHUNK, CHUNK_FIELDS, CHUNK_PRESENT, RECORD, RECORD_FIELDS, type ProbeMessage, type ResultMessage } from './protocol.js'

/**
 * A chunk of a result message, in file order: stored by one of `records` of the message
 * ('stored'), already in the store ('present', a probe answer), or put in a record by
 * another message of this import ('seen').
 */
export interface ResultChunk { readonly file: number, readonly cid: CID, readonly rawSize: number, readonly state: 'stored' | 'present' | 'seen' }

/**
 * The chunks of a worker's result message, in order, and the records that store its new
 * ones (a record of one member is one chunk's own payload). Payloads are views into the
 * message buffer (the store keeps them); CIDs are views into the message's `cids` (never
 * changed after the message arrives), so they pin that small buffer, not the payloads'.
 * `free`, when given, is called once every record has been released by the store (see
 * PreparedFrame.release): the message buffer is then no longer needed.
 */
export function decodeResult (msg: ResultMessage, free?: () => void): { chunks: ResultChunk[], records: PreparedFrame[] } {
  const { meta, buffer, cids } = msg
  const n = meta.length / CHUNK_FIELDS
  const chunks: ResultChunk[] = new Array(n)
  const nr = msg.records.length / RECORD_FIELDS
  const members: Array<Array<{ cid: CID, rawSize: number }>> = []
  for (let r = 0; r < nr; r++) members.push([])
  for (let i = 0; i < n; i++) {
    const m = i * CHUNK_FIELDS
    const rec = meta[m + CHUNK.RECORD]
    const offset = meta[m + CHUNK.CID_OFFSET]
    // A view, not a copy: a small slice() is a typed array on V8's heap, and the Digest
    // multiformats makes of it asks for its .buffer, which moves it off the heap (t1: ~0.1 s
    // of main-thread CPU and much of its GC). The message's CID bytes are small and kept as
    // long as any of its CIDs.
    const cid = cidFromBytes(cids.subarray(offset, offset + meta[m + CHUNK.CID_LENGTH]))
    const rawSize = meta[m + CHUNK.RAW_SIZE]
    chunks[i] = { file: meta[m + CHUNK.FILE], cid, rawSize, state: rec >= 0 ? 'stored' : rec === CHUNK_PRESENT ? 'present' : 'seen' }
    if (rec >= 0) members[rec].push({ cid, rawSize })
  }
  const records: PreparedFrame[] = new Array(nr)
  let left = nr
  const release = free === undefined ? undefined : () => { if (--left === 0) free() }
  for (let r = 0; r < nr; r++) {
    const f = r * RECORD_FIELDS
    const payload = new Uint8Array(buffer, msg.records[f + RECORD.OFFSET], msg.records[f + RECORD.LENGTH])
    if (members[r].length !== msg.records[f + RECORD.MEMBERS]) throw new RangeError('malformed ingest result: member count')
    records[r] = { members: members[r], payload, compressed: msg.records[f + RECORD.COMPRESSED] === 1, release }
  }
  return { chunks, records }
}

/**
 * Fills `flags` (1 = missing) for the CIDs of a probe, asking `missing`. On any failure every
 * chunk counts as missing, which is always safe (the store dedups on put).
 */
export async function answerProbe (msg: ProbeMessage, missing: (cids: CID[]) => AsyncIterable<CID>, flags: Uint8Array): Promise<void> {
  const n = msg.cids.length / msg.cidLength
  const keys: string[] = []
  const cids: CID[] = []
  for (let i = 0; i < n; i++) {
    const bytes = msg.cids.subarray(i * msg.cidLength, (i + 1) * msg.cidLength)
    keys.push(keyOfBytes(bytes))
    cids.push(cidFromBytes(bytes)) // a view (see decodeResult)
  }
  flags.fill(1, 0, n)
  try {
    const lacking = new Set<string>()
    for await (const c of missing(cids)) lacking.add(keyOf(c))
    for (let i = 0; i < n; i++) flags[i] = lacking.has(keys[i]) ? 1 : 0
  } catch {
    flags.fill(1, 0, n)
  }
}
