import type { CID } from 'multiformats/cid'
import type { ChunkReader } from '../cas/interface.js'
import type { FilePart } from '../overlay/interface.js'
import type { Block } from './car.js'
import { compressAsync, compressWithReferenceAsync } from '../cas/compress.js'
import { DeltaCache } from './delta-cache.js'
import { changedFiles, encodeDeltaBlock, fileLeaves, MAX_REFERENCE_BYTES_32MIB } from './delta.js'

/**
 * Delta levels are capped: each unit loads its reference as a dictionary, which at level 19
 * made the server CPU-bound under a 108 KB/s link (7.8 MB in 169 s for the Debian upgrade,
 * 2.3x the link's time); the outer stream still runs at the requested level.
 */
const MAX_DELTA_LEVEL = 12
const BIG_UNIT_BYTES_8MIB = 8 * 1024 * 1024
const BIG_UNIT_MAX_LEVEL = 9
/** Bytes of units (new version and reference) read and being compressed at once (at least one unit). */
const UNITS_IN_FLIGHT_BYTES = 64 * 1024 * 1024
/** Units compressed at once on libuv's thread pool. */
const UNITS_IN_FLIGHT = 4

interface Unit { readonly targets: FilePart[], readonly refs: FilePart[] }

export interface DeltaPlan {
  /** CID strings of the wanted chunks that `blocks` delivers (as deltas or, when a delta does not pay, raw). */
  readonly covered: ReadonlySet<string>
  readonly blocks: AsyncIterable<Block>
}

/**
 * Plans deltas for the `wanted` chunks of tree `root` against tree `base` (which the client
 * holds): a wanted chunk of a file that changedFiles() pairs with a base file (same path, or
 * a renamed versioned name) goes in a delta block against that file's base version; each
 * delta is sent only when it is smaller than the same bytes compressed alone (otherwise the
 * raw chunks go). Chunks of no such file are not covered: the caller sends them as plain blocks.
 */
export async function planDeltas (reader: ChunkReader, root: CID, base: CID, wanted: readonly CID[], level: number, cache?: DeltaCache): Promise<DeltaPlan> {
  const want = new Set(wanted.map((c) => c.toString()))
  const covered = new Set<string>()
  const units: Unit[] = []
  for (const pair of await changedFiles(reader, root, base)) {
    if (pair.base.size === 0 || pair.base.size > MAX_REFERENCE_BYTES_32MIB) continue
    const parts = await fileLeaves(reader, pair.target)
    const refs = parts === undefined ? undefined : await fileLeaves(reader, pair.base)
    if (parts === undefined || refs === undefined || refs.length === 0) continue
    const targets = parts.filter((p) => { const k = p.cid.toString(); return want.has(k) && !covered.has(k) })
    if (targets.length === 0) continue
    for (const p of targets) covered.add(p.cid.toString())
    units.push({ targets: dedupe(targets), refs })
  }
  return { covered, blocks: unitBlocks(reader, units, level, cache) }
}

function dedupe (parts: FilePart[]): FilePart[] {
  const seen = new Set<string>()
  return parts.filter((p) => { const k = p.cid.toString(); if (seen.has(k)) return false; seen.add(k); return true })
}

async function readAll (reader: ChunkReader, parts: readonly FilePart[]): Promise<Uint8Array[] | undefined> {
  const out: Uint8Array[] = []
  for (const p of parts) {
    const bytes = await reader.get(p.cid)
    if (bytes === undefined) return undefined
    out.push(bytes)
  }
  return out
}

/**
 * The blocks of each unit in order: its delta, or its chunks plain. Several units are read and
 * compressed at once (the compression runs on libuv's thread pool), bounded in count and bytes.
 */
async function * unitBlocks (reader: ChunkReader, units: readonly Unit[], level: number, cache?: DeltaCache): AsyncIterable<Block> {
  const running: Array<{ blocks: Promise<Block[]>, bytes: number }> = []
  let inFlight = 0
  let next = 0
  const start = (): void => {
    while (next < units.length && running.length < UNITS_IN_FLIGHT && (running.length === 0 || inFlight + unitBytes(units[next]) <= UNITS_IN_FLIGHT_BYTES)) {
      const unit = units[next++]
      const blocks = unitOutput(reader, unit, level, cache)
      blocks.catch(() => {}) // awaited in order below
      running.push({ blocks, bytes: unitBytes(unit) })
      inFlight += unitBytes(unit)
    }
  }
  start()
  while (running.length > 0) {
    const { blocks, bytes } = running.shift()!
    const out = await blocks
    inFlight -= bytes
    start()
    yield * out
  }
}

function unitBytes (unit: Unit): number {
  let n = 0
  for (const p of unit.targets) n += p.size
  for (const p of unit.refs) n += p.size
  return n
}

/** A unit's delta block, or its chunks plain when no delta pays (or its reference is not here). */
async function unitOutput (reader: ChunkReader, unit: Unit, level: number, cache?: DeltaCache): Promise<Block[]> {
  const targets = await readAll(reader, unit.targets)
  if (targets === undefined) return [] // absent here: the client finds it missing and asks again
  // The reference is read also on a cache hit: reading it checks that this reader may see it.
  const refs = await readAll(reader, unit.refs)
  if (refs !== undefined) {
    const plain = Buffer.concat(targets)
    const reference = Buffer.concat(refs)
    // Big files at high levels take long enough to stall the stream: cap the level there.
    const unitLevel = Math.min(level, reference.length + plain.length > BIG_UNIT_BYTES_8MIB ? BIG_UNIT_MAX_LEVEL : MAX_DELTA_LEVEL)
    const key = cache === undefined ? '' : DeltaCache.keyOf(unit.targets, unit.refs, unitLevel)
    let z = cache?.get(key)
    if (z === undefined) {
      const delta = await compressWithReferenceAsync(plain, reference, unitLevel)
      // A delta under a quarter of the raw size wins for sure; otherwise compare with plain zstd.
      z = delta.length < plain.length / 4 || delta.length < (await compressAsync(plain, unitLevel)).length ? delta : null
      cache?.set(key, z)
    }
    if (z !== null) return [encodeDeltaBlock({ targets: unit.targets, refs: unit.refs.map((p) => p.cid), z })]
  }
  return unit.targets.map((p, i) => ({ cid: p.cid, bytes: targets[i] }))
}
