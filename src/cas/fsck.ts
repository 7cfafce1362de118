import type { CID } from 'multiformats/cid'
import { hasCode } from '../util/coded-error.js'
import { ChunkInvalidError, StoreCorruptError } from './errors.js'
import type { AbortOptions, ChunkReader } from './interface.js'
import { mayHaveLinks, walkDag } from './links.js'
import { checkPacks, type FsckProblem, type Located } from './store/check-packs.js'
import { compactPack } from './store/compact.js'
import type { LocalStore } from './store/local.js'
import { keyOf } from './store/guard.js'
import { decodeEntry, encodeEntry } from './store/pack-format.js'
import { readEntry } from './store/read.js'
import { countEntry } from './store/writer.js'
import type { RecoveryReport } from './store/recover.js'

export type { FsckProblem }

export interface FsckOptions extends AbortOptions {
  /** Fix what can be fixed (see checkPacks); without it fsck changes nothing. */
  readonly repair?: boolean
  /** Called after each pack is checked. */
  readonly onPack?: (done: number, total: number) => void
}

/** What fsck found. `ok` is true when no problem is left (none found, or all repaired). */
export interface FsckReport {
  ok: boolean
  repair: boolean
  packs: number
  records: number
  verified: number
  corrupt: number
  dangling: number
  orphans: number
  damagedRegions: number
  unreferencedPacks: number
  lostPacks: number
  /** Blocks reachable from pins that the store lacks (fetch or import them again). */
  missing: number
  /** Valid records no index entry uses and no pin wants: reclaimable by gc; not a fault. */
  garbageRecords: number
  garbageBytes: number
  strayFiles: string[]
  /** What opening the store repaired (torn tails, re-indexed records). */
  recovered: RecoveryReport
  /** Problems found (at most MAX_LISTED; the counts above are complete). */
  problems: FsckProblem[]
  unrepaired: number
}

const MAX_LISTED = 1000
const MISSING_BATCH = 1024

/**
 * Verifies every record of every pack against the index and its CID, then walks every pin
 * for absent blocks. Repairs with `repair` (absent blocks cannot be repaired locally; they
 * are reported). Counters (stats) are recomputed from the index when they disagree.
 */
export async function checkStore (store: LocalStore, options: FsckOptions = {}): Promise<FsckReport> {
  const parts = store.parts
  const repair = options.repair === true
  await parts.writer.commit(true)
  const packs = await parts.writer.exclusive(async () => {
    const found = await checkPacks(parts, repair, options.onPack)
    await fixCounters(store)
    return found
  })
  if (repair) await rewriteDamaged(store, packs.rewrite)
  const problems = packs.problems
  const count = (kind: FsckProblem['kind']): number => problems.filter((p) => p.kind === kind).length
  const orphans = new Orphans(store, packs.unindexed, repair, problems)
  let missing = 0
  const visited = new Set<string>() // shared: a block under several pins is checked once, reported under the first
  for (const pin of await store.pins()) {
    options.signal?.throwIfAborted()
    for (const cid of await missingUnder(store, pin.root, visited, orphans, pin.name, options)) {
      missing++
      problems.push({ kind: 'missing', cid: cid.toString(), pin: pin.name, detail: `reachable from pin ${pin.name} but absent`, repaired: false })
    }
  }
  if (orphans.found > 0) {
    packs.garbageRecords -= orphans.found; packs.garbageBytes -= orphans.foundBytes
    if (repair) await parts.writer.exclusive(async () => { await fixCounters(store) })
  }
  const unrepaired = problems.filter((p) => !p.repaired).length
  return {
    ok: unrepaired === 0, repair, packs: packs.packs, records: packs.records, verified: packs.verified,
    corrupt: count('corrupt'), dangling: count('dangling'), orphans: count('orphan'), damagedRegions: count('damaged'),
    unreferencedPacks: count('unreferenced-pack'), lostPacks: count('lost-pack'), missing,
    garbageRecords: packs.garbageRecords, garbageBytes: packs.garbageBytes, strayFiles: packs.strayFiles,
    recovered: store.recovery, problems: problems.slice(0, MAX_LISTED), unrepaired
  }
}

/**
 * Valid records no index entry uses that a pinned tree wants: orphans (a lost index entry).
 * `take` reports one, re-indexes it with `repair`, and returns its block so the walk goes on.
 */
class Orphans {
  found = 0
  foundBytes = 0
  constructor (private readonly store: LocalStore, private readonly unindexed: Map<string, Located & { bytes: number }>,
    private readonly repair: boolean, private readonly problems: FsckProblem[]) {}

  async take (cid: CID, pin: string): Promise<Uint8Array | undefined> {
    const key = keyOf(cid)
    const u = this.unindexed.get(key)
    if (u === undefined) return undefined
    this.unindexed.delete(key)
    const parts = this.store.parts
    const bytes = await readEntry(parts, u.cidBytes, u.entry)
    if (bytes === undefined) return undefined
    this.found++; this.foundBytes += u.bytes
    this.problems.push({ kind: 'orphan', cid: cid.toString(), pin, pack: u.entry.pack, offset: u.entry.offset, detail: `valid record missing from the index, wanted by pin ${pin}`, repaired: this.repair })
    if (this.repair) await parts.index.batch([{ type: 'put', sublevel: 'chunks', key: u.cidBytes, value: encodeEntry(u.entry) }], true)
    return bytes
  }
}

/** Absent blocks under `root` that are not in `visited` (which it extends); orphans count as present. */
async function missingUnder (store: LocalStore, root: CID, visited: Set<string>, orphans: Orphans, pin: string, options: AbortOptions): Promise<CID[]> {
  const absent: CID[] = []
  const reader: ChunkReader = {
    has: async (cid) => await store.has(cid),
    get: async (cid) => {
      let bytes: Uint8Array | undefined
      try { bytes = await store.get(cid) } catch (err) { if (!hasCode(err, ChunkInvalidError.code)) throw err }
      return bytes ?? await orphans.take(cid, pin)
    }
  }
  let leaves: CID[] = []
  const flush = async (): Promise<void> => {
    for await (const cid of store.missing(leaves)) if (await orphans.take(cid, pin) === undefined) absent.push(cid)
    leaves = []
  }
  for await (const cid of walkDag(reader, root, { visited, onMissing: 'skip', missing: (cid) => absent.push(cid), signal: options.signal })) {
    if (mayHaveLinks(cid)) continue // read by the walk: absent ones were reported through `missing`
    leaves.push(cid)
    if (leaves.length >= MISSING_BATCH) await flush()
  }
  await flush()
  return absent
}

/** Rewrites packs with damaged regions, keeping their live records (store/compact.ts). */
async function rewriteDamaged (store: LocalStore, packs: Array<{ pack: number, live: number }>): Promise<void> {
  const parts = store.parts
  for (const { pack, live } of packs) {
    if (pack === parts.table.activePack) await parts.writer.seal()
    const r = await compactPack(parts, { pack, garbage: new Map(), live, liveBytes: 0 }, () => false)
    if (r.skipped) throw new StoreCorruptError(`pack ${pack} could not be rewritten around its damage`)
  }
}

async function fixCounters (store: LocalStore): Promise<void> {
  const { index, table } = store.parts
  const c = { chunks: 0, rawBytes: 0, storedBytes: 0, framedChunks: 0 }
  for await (const [k, v] of index.chunks.iterator()) {
    const e = decodeEntry(v)
    if (e !== undefined) countEntry(c, e, k.length, 1)
  }
  const t = table.counters
  if (t.chunks === c.chunks && t.rawBytes === c.rawBytes && t.storedBytes === c.storedBytes && (t.framedChunks ?? 0) === c.framedChunks) return
  Object.assign(t, c)
  await index.batch([{ type: 'put', sublevel: 'meta', key: 'counters', value: t }], true)
}
