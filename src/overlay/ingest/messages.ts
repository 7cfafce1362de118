import { CID } from 'multiformats/cid'
import type { PreparedChunk } from '../../cas/prepare.js'
import { CHUNK, CHUNK_FIELDS, CHUNK_PRESENT, type ProbeMessage, type ResultMessage } from './protocol.js'

/** A chunk of a result message: what to store (unless `present`) and which file it belongs to. */
export interface ResultChunk { readonly file: number, readonly prepared: PreparedChunk, readonly present: boolean }

/**
 * The chunks of a worker's result message, in order. Payloads are views into the message
 * buffer (the store keeps them); CIDs are copies, so they do not pin that buffer.
 */
export function decodeResult (msg: ResultMessage): ResultChunk[] {
  const { meta, buffer } = msg
  const n = meta.length / CHUNK_FIELDS
  const out: ResultChunk[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const m = i * CHUNK_FIELDS
    const flag = meta[m + CHUNK.COMPRESSED]
    out[i] = {
      file: meta[m + CHUNK.FILE],
      present: flag === CHUNK_PRESENT,
      prepared: {
        cid: CID.decode(new Uint8Array(buffer, meta[m + CHUNK.CID_OFFSET], meta[m + CHUNK.CID_LENGTH]).slice()),
        payload: new Uint8Array(buffer, meta[m + CHUNK.OFFSET], meta[m + CHUNK.LENGTH]),
        compressed: flag === 1,
        rawSize: meta[m + CHUNK.RAW_SIZE]
      }
    }
  }
  return out
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
    keys.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1'))
    cids.push(CID.decode(bytes.slice()))
  }
  flags.fill(1, 0, n)
  try {
    const lacking = new Set<string>()
    for await (const c of missing(cids)) lacking.add(Buffer.from(c.bytes).toString('latin1'))
    for (let i = 0; i < n; i++) flags[i] = lacking.has(keys[i]) ? 1 : 0
  } catch {
    flags.fill(1, 0, n)
  }
}
