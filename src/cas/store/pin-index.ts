import { CID } from 'multiformats/cid'
import type { Pin } from '../pins.js'
import type { StoreParts } from './local.js'
import { decodeEntry, storedBytesOf } from './pack-format.js'

/** Totals of a store. `storedBytes` counts live records; `packBytes` the pack files on disk. */
export interface StoreStats {
  chunks: number
  rawBytes: number
  storedBytes: number
  packFiles: number
  packBytes: number
  pins: number
  /** Of `chunks`, those stored as members of frame records. */
  framedChunks: number
  /** Frame records with at least one member in use (only when asked for: a pass over the index). */
  frames?: number
}

/**
 * Records pin `name` -> `root` durably, after a durable commit of every write so far (so the
 * pinned blocks are on disk before the name is). Tells a running GC about the root, before
 * and after the batch: a GC that began meanwhile may have read the pins without it.
 */
export async function writePin (parts: StoreParts, name: string, root: CID): Promise<void> {
  const { guard } = parts
  if (guard.gcRunning) guard.lateRoots.push(root.bytes)
  await parts.writer.commit(true)
  await parts.index.batch([{ type: 'put', sublevel: 'pins', key: name, value: root.bytes }], true)
  if (guard.gcRunning) guard.lateRoots.push(root.bytes)
}

/** Deletes pin `name` durably; false when there was none. */
export async function removePin (parts: StoreParts, name: string): Promise<boolean> {
  if (await parts.index.pins.get(name) === undefined) return false
  await parts.index.batch([{ type: 'del', sublevel: 'pins', key: name }], true)
  return true
}

/** Every pin, sorted by name (LevelDB key order). */
export async function listPins (parts: StoreParts): Promise<Pin[]> {
  const out: Pin[] = []
  for await (const [name, value] of parts.index.pins.iterator()) out.push({ name, root: CID.decode(value) })
  return out
}

/** The root pinned as `name`, or undefined. */
export async function readPin (parts: StoreParts, name: string): Promise<CID | undefined> {
  const value = await parts.index.pins.get(name)
  return value === undefined ? undefined : CID.decode(value)
}

/** Counters of the index plus records still in memory, pack files on disk, and pins. */
export async function storeStats (parts: StoreParts, countFrames = false): Promise<StoreStats> {
  const { files, table, writer, index } = parts
  const s: StoreStats = { ...table.counters, framedChunks: table.counters.framedChunks ?? 0, packFiles: 0, packBytes: 0, pins: 0 }
  const frames = new Set<string>()
  for (const r of writer.pending.values()) {
    s.chunks++; s.rawBytes += r.entry.rawSize; s.storedBytes += storedBytesOf(r.entry, r.key.length)
    if (r.entry.frame !== undefined) { s.framedChunks++; frames.add(`${r.entry.pack}:${r.entry.offset}`) }
  }
  if (countFrames) {
    for await (const v of index.chunks.values()) {
      const e = decodeEntry(v)
      if (e?.frame !== undefined) frames.add(`${e.pack}:${e.offset}`)
    }
    s.frames = frames.size
  }
  for (const n of (await files.list()).packs) { s.packFiles++; s.packBytes += await files.size(n) }
  for await (const _ of index.pins.keys()) s.pins++
  return s
}
