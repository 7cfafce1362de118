import type { CID } from 'multiformats/cid'
import { ChunkInvalidError } from '../errors.js'
import { keyOf } from './guard.js'
import type { StoreParts } from './local.js'
import { decodeEntry, payloadPosition, sameLocation, type IndexEntry } from './pack-format.js'
import { checkBlock, openFrame, openPayload } from './pack-scan.js'
import { countEntry, type PendingRecord } from './writer.js'

/** Where a located block is: still in memory, or in a pack. */
export type Location = { rec: PendingRecord, entry?: undefined } | { rec?: undefined, entry: IndexEntry }

/**
 * Where `cid` is stored, or undefined. Synchronous: pending records, then LevelDB's getSync
 * (a few µs from its cache, ~25x faster than an async get's thread-pool round trip, which
 * dominated put()). Being synchronous it cannot interleave with a GC index switch, and keys
 * that switch is dropping read as absent.
 */
export function locate (parts: StoreParts, cid: CID, key = keyOf(cid)): Location | undefined {
  const rec = parts.writer.pending.get(key)
  if (rec !== undefined) return { rec }
  if (parts.guard.doomed.has(key)) return undefined
  const raw = parts.index.getChunkSync(cid.bytes, key)
  if (raw === undefined) return undefined
  const entry = decodeEntry(raw)
  return entry === undefined ? undefined : { entry }
}

/**
 * The verified block `cid`, or undefined when absent. A block that cannot be read or fails
 * its hash is dropped from the index (it then reads as absent and the next put stores it
 * again) and the call rejects CAS_CHUNK_INVALID. Retries when GC moved the block meanwhile.
 * A frame member is cut from its decompressed frame, which is kept in the frame cache.
 */
export async function readBlock (parts: StoreParts, cid: CID): Promise<Uint8Array | undefined> {
  for (let attempt = 0; ; attempt++) {
    const epoch = parts.guard.epoch
    const loc = locate(parts, cid)
    if (loc === undefined) return undefined
    if (loc.rec !== undefined) return openBlock(parts, cid, loc.rec.entry, loc.rec.payload, false)
    const e = loc.entry
    if (e.frame !== undefined) {
      const cached = parts.frames.get(e.pack, e.offset)
      if (cached !== undefined) {
        const hit = memberOf(cid, e, cached)
        if (hit !== undefined) return hit
        parts.frames.delete(e.pack, e.offset) // read it again from disk before calling it corrupt
      } else {
        // Concurrent readers of one frame (an export's files, parallel NFS reads) share one load.
        const loading = parts.frames.loading(e.pack, e.offset)
        if (loading !== undefined) {
          const raw = await loading
          const hit = raw === undefined ? undefined : memberOf(cid, e, raw)
          if (hit !== undefined) return hit
        }
      }
    }
    let payload: Uint8Array
    let done: ((raw: Uint8Array | undefined) => void) | undefined
    if (e.frame !== undefined) done = parts.frames.startLoad(e.pack, e.offset)
    try {
      payload = await parts.files.readSmall(e.pack, payloadPosition(e, cid.bytes.length), e.length)
    } catch (err) {
      done?.(undefined)
      if (parts.guard.epoch !== epoch && attempt < 3) continue // GC moved it meanwhile
      await dropEntry(parts, cid, e)
      throw new ChunkInvalidError(cid, 'its pack cannot be read', { cause: err })
    }
    if (payload.length < e.length && parts.guard.epoch !== epoch && attempt < 3) { done?.(undefined); continue }
    try {
      return openBlock(parts, cid, e, payload, true)
    } catch (err) {
      await dropEntry(parts, cid, e)
      throw err
    } finally {
      done?.(parts.frames.get(e.pack, e.offset)) // set by openBlock when the frame decompressed
    }
  }
}

/** Verified block of a payload; copies unless `fresh` (a buffer nobody else holds). */
function openBlock (parts: StoreParts, cid: CID, e: IndexEntry, payload: Uint8Array, fresh: boolean): Uint8Array {
  if (payload.length !== e.length) throw new ChunkInvalidError(cid, 'its record is cut short')
  if (e.frame !== undefined) {
    const raw = openFrame(e.flags, e.frame.rawSize, payload)
    if (raw === undefined) throw new ChunkInvalidError(cid, 'its frame does not decompress')
    const block = memberOf(cid, e, raw)
    if (block === undefined) throw new ChunkInvalidError(cid)
    parts.frames.set(e.pack, e.offset, raw)
    return block
  }
  const block = openPayload(cid.bytes, e.flags, e.rawSize, payload)
  if (block === undefined) throw new ChunkInvalidError(cid)
  // A plain Uint8Array the caller owns (never a Buffer: equal to what MemoryChunkStore returns).
  const b = block.bytes === payload && !fresh ? new Uint8Array(payload) : block.bytes
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

/** A verified copy of member `cid` of a decompressed frame, or undefined when it fails its hash. */
function memberOf (cid: CID, e: IndexEntry, raw: Uint8Array): Uint8Array | undefined {
  const at = e.frame!.at
  if (raw.length !== e.frame!.rawSize || at + e.rawSize > raw.length) return undefined
  const block = checkBlock(cid.bytes, raw.subarray(at, at + e.rawSize))
  return block === undefined ? undefined : new Uint8Array(block.bytes) // a copy: the frame stays cached
}

/** Drops a corrupt entry (if still current) so the block reads as absent. */
async function dropEntry (parts: StoreParts, cid: CID, e: IndexEntry): Promise<void> {
  const current = locate(parts, cid)
  if (current?.entry === undefined || !sameLocation(current.entry, e)) return
  const t = parts.table.counters
  countEntry(t, e, cid.bytes.length, -1)
  await parts.index.batch([{ type: 'del', sublevel: 'chunks', key: cid.bytes }, { type: 'put', sublevel: 'meta', key: 'counters', value: t }], false)
}

/**
 * The verified block at `e` (an entry that need not be in the index: fsck's orphans), or
 * undefined when it cannot be read or fails its hash. Does not touch the index or the cache.
 */
export async function readEntry (parts: StoreParts, cidBytes: Uint8Array, e: IndexEntry): Promise<Uint8Array | undefined> {
  const payload = await parts.files.readSmall(e.pack, payloadPosition(e, cidBytes.length), e.length)
  if (payload.length !== e.length) return undefined
  if (e.frame === undefined) return openPayload(cidBytes, e.flags, e.rawSize, payload)?.bytes
  const raw = openFrame(e.flags, e.frame.rawSize, payload)
  if (raw === undefined || e.frame.at + e.rawSize > raw.length) return undefined
  return checkBlock(cidBytes, raw.slice(e.frame.at, e.frame.at + e.rawSize))?.bytes
}
