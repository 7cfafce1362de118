import { CID } from 'multiformats/cid'
import { keyOfBytes } from './guard.js'
import type { IndexOp } from './index-db.js'
import type { StoreParts } from './local.js'
import { decodeEntry, sameLocation, type IndexEntry } from './pack-format.js'
import { blocksOf, isStop, scanPack, type ScanStop } from './pack-scan.js'

/** One thing fsck found. `repaired` says whether --repair fixed it. */
export interface FsckProblem {
  kind: 'corrupt' | 'dangling' | 'orphan' | 'damaged' | 'unreferenced-pack' | 'lost-pack' | 'missing'
  detail: string
  cid?: string
  pin?: string
  pack?: number
  offset?: number
  bytes?: number
  repaired: boolean
}

/** Tallies of the pack pass. */
export interface PackCheck {
  packs: number
  records: number
  verified: number
  /** Whole records no index entry uses (duplicates, dropped blocks): gc reclaims them. */
  garbageRecords: number
  garbageBytes: number
  strayFiles: string[]
  problems: FsckProblem[]
  /** Valid records no index entry uses, by key (garbage, or orphans a pin wants: fsck.ts). */
  unindexed: Map<string, Located & { bytes: number }>
  /** Packs with damaged regions and live records: repair rewrites them (compactPack). */
  rewrite: Array<{ pack: number, live: number }>
}

export type Located = { cidBytes: Uint8Array, entry: IndexEntry }

/**
 * Reads every pack from start to end and checks it against the index: every indexed record
 * must be at its offset and verify (else corrupt/dangling); whole valid records no entry
 * uses are collected in `unindexed`; bytes that are no record are a damaged region
 * (skipped up to the next record header). With `repair`: corrupt and dangling entries are
 * deleted (the blocks read as absent and are stored again by the next put or pull), packs
 * nothing uses are deleted. Runs between writer commits.
 */
export async function checkPacks (parts: StoreParts, repair: boolean, onPack?: (done: number, total: number) => void): Promise<PackCheck> {
  const { files, index, table } = parts
  // Entries by pack, then by record offset (a frame's members share one).
  const byPack = new Map<number, Map<number, Located[]>>()
  let malformed = 0
  for await (const [k, v] of index.chunks.iterator()) {
    const entry = decodeEntry(v) ?? { pack: -1, offset: malformed++, length: 0, flags: 0, rawSize: 0, frame: undefined }
    let m = byPack.get(entry.pack)
    if (m === undefined) byPack.set(entry.pack, m = new Map())
    const at = m.get(entry.offset)
    if (at === undefined) m.set(entry.offset, [{ cidBytes: k, entry }]); else at.push({ cidBytes: k, entry })
  }
  const activeAtStart = table.activePack
  const { packs, others } = await files.list()
  const out: PackCheck = { packs: packs.length, records: 0, verified: 0, garbageRecords: 0, garbageBytes: 0, strayFiles: others, problems: [], rewrite: [], unindexed: new Map() }
  const ops: IndexOp[] = []
  const indexedNow = new Set<string>()
  let done = 0
  for (const n of packs) {
    const entries = byPack.get(n) ?? new Map<number, Located[]>()
    byPack.delete(n)
    const size = await files.size(n)
    let liveLeft = 0
    let damagedBytes = 0
    let hasUnindexed = false
    let stop: ScanStop | undefined
    for await (const r of scanPack(files, n, 0, size, { resync: true })) {
      if (stop !== undefined) {
        const bytes = r.offset - stop.offset
        damaged(out, n, stop.offset, bytes, repair); damagedBytes += bytes
        stop = undefined
      }
      if (isStop(r)) { stop = r; continue }
      out.records++
      const here = entries.get(r.offset) ?? []
      // A corrupt frame fails every member it holds (each is reported).
      for (const b of blocksOf(n, r)) {
        const i = here.findIndex((e) => Buffer.compare(e.cidBytes, b.cidBytes) === 0 && sameLocation(e.entry, b.entry))
        if (i >= 0) {
          const e = here[i]
          here.splice(i, 1)
          if (b.bytes !== undefined) { out.verified++; liveLeft++; continue }
          out.problems.push({ kind: 'corrupt', cid: cidText(b.cidBytes), pack: n, offset: r.offset, detail: r.kind === 'frame' ? 'stored bytes of this frame member do not match their hash' : 'stored bytes do not match their hash', repaired: repair })
          if (repair) ops.push({ type: 'del', sublevel: 'chunks', key: e.cidBytes }); else liveLeft++
          continue
        }
        const key = keyOfBytes(b.cidBytes)
        if (b.bytes === undefined || indexedNow.has(key) || index.chunks.getSync(b.cidBytes) !== undefined) {
          out.garbageRecords++; out.garbageBytes += b.storedBytes
          continue
        }
        // Valid but in no index entry: garbage that gc dropped from the index, or a lost entry.
        // Only a pin can tell: fsck.ts calls it an orphan when a pinned tree wants it.
        indexedNow.add(key); hasUnindexed = true
        out.unindexed.set(key, { cidBytes: Uint8Array.from(b.cidBytes), entry: b.entry, bytes: b.storedBytes })
        out.garbageRecords++; out.garbageBytes += b.storedBytes
      }
      if (here.length === 0) entries.delete(r.offset)
    }
    if (stop !== undefined) { damaged(out, n, stop.offset, size - stop.offset, repair); damagedBytes += size - stop.offset }
    if (damagedBytes > 0 && liveLeft > 0) out.rewrite.push({ pack: n, live: liveLeft })
    for (const list of entries.values()) for (const e of list) dangling(out, ops, e, repair, `no such record in pack ${n}`)
    // Packs appends may still reach (the active one, later ones, any with pending records)
    // are never declared unused nor have their tail reset.
    const open = n >= activeAtStart || [...parts.writer.pending.values()].some((r) => r.entry.pack === n)
    if (!open && liveLeft === 0 && !hasUnindexed) {
      out.problems.push({ kind: 'unreferenced-pack', pack: n, bytes: size, detail: 'no index entry uses this pack', repaired: repair })
      if (repair) { ops.push({ type: 'put', sublevel: 'meta', key: `pack/${n}`, value: { tail: size, dead: true } }); table.packs.set(n, { tail: size, dead: true }) }
    } else if (!open && repair && table.packs.get(n)?.tail !== size) {
      // The indexed tail must match the file (it is past the end after a pack was cut short).
      ops.push({ type: 'put', sublevel: 'meta', key: `pack/${n}`, value: { tail: size } }); table.packs.set(n, { tail: size })
    }
    onPack?.(++done, packs.length)
  }
  for (const [n, entries] of byPack) {
    const lost = [...entries.values()].flat()
    out.problems.push({ kind: 'lost-pack', pack: n, detail: `${lost.length} index entries point into a pack file that is gone`, repaired: repair })
    for (const e of lost) dangling(out, ops, e, repair, n < 0 ? 'malformed index entry' : `pack ${n} is gone`)
    if (repair && n >= 0) { ops.push({ type: 'del', sublevel: 'meta', key: `pack/${n}` }); table.packs.delete(n) }
  }
  if (repair && ops.length > 0) await applyRepairs(parts, ops)
  return out
}

function damaged (out: PackCheck, pack: number, offset: number, bytes: number, repair: boolean): void {
  out.problems.push({ kind: 'damaged', pack, offset, bytes, detail: `${bytes} bytes that are no whole record${repair ? ' (pack rewritten without them)' : ''}`, repaired: repair })
}

function dangling (out: PackCheck, ops: IndexOp[], e: Located, repair: boolean, detail: string): void {
  out.problems.push({ kind: 'dangling', cid: cidText(e.cidBytes), pack: e.entry.pack, offset: e.entry.offset, detail, repaired: repair })
  if (repair) ops.push({ type: 'del', sublevel: 'chunks', key: e.cidBytes })
}

async function applyRepairs (parts: StoreParts, ops: IndexOp[]): Promise<void> {
  await parts.index.batch(ops, true)
  for (const [n, s] of parts.table.packs) {
    if (s.dead === true) { await parts.files.remove(n); parts.table.packs.delete(n); await parts.index.batch([{ type: 'del', sublevel: 'meta', key: `pack/${n}` }], true) }
  }
}

function cidText (bytes: Uint8Array): string {
  try { return CID.decode(bytes).toString() } catch { return Buffer.from(bytes).toString('hex') }
}
