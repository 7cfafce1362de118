import type { CID } from 'multiformats/cid'
import { prepareFrame, preparePayload, STORE_FRAME_RAW_BYTES } from '../prepare.js'
import { keyOfBytes } from './guard.js'
import type { IndexOp } from './index-db.js'
import type { StoreParts } from './local.js'
import { decodeEntry, encodeEntry, encodeFrameHead, encodeRecordHead, FLAG_ZSTD, sameLocation, type IndexEntry } from './pack-format.js'
import { blocksOf, checkBlock, isStop, scanPack, type ScannedRecord } from './pack-scan.js'
import { countEntry } from './writer.js'

/** What GC decided about one sealed pack. */
export interface PackPlan {
  readonly pack: number
  /** Index entries in this pack that nothing protects, by map key (guard.ts keyOf). */
  readonly garbage: Map<string, { key: string, cidBytes: Uint8Array, entry: IndexEntry }>
  live: number
  liveBytes: number
}

/** Outcome of rewriting one pack. */
export interface CompactResult {
  removed: number
  removedRawBytes: number
  /** Pack bytes deleted minus pack bytes written. */
  freedBytes: number
  /** Live records that failed verification and were dropped from the index. */
  corrupt: number
  /** True when a block planned as garbage became protected, so the pack was left alone. */
  skipped: boolean
}

const WRITE_BYTES = 8 * 1024 * 1024

/** A live block written to the compaction's new pack: its old and new entries. */
interface MovedBlock { readonly cidBytes: Uint8Array, readonly old: IndexEntry, readonly entry: IndexEntry }

/**
 * The new pack of a compaction: whole records copied as they are, and live members of partly
 * dead frames gathered into new frames (STORE_FRAME_RAW_BYTES each) or, alone, block records.
 * Written in large sequential writes; `moved` receives the new entries.
 */
class CompactOutput {
  #bufs: Uint8Array[] = []
  #bufStart = 0
  #pos = 0
  #gather: Array<{ cidBytes: Uint8Array, old: IndexEntry, bytes: Uint8Array }> = []
  #gatherBytes = 0

  constructor (private readonly parts: StoreParts, private readonly target: number, private readonly moved: MovedBlock[]) {}

  async copy (r: ScannedRecord, live: Array<{ cidBytes: Uint8Array, old: IndexEntry }>): Promise<void> {
    const offset = this.#pos
    if (r.kind === 'block') {
      const head = encodeRecordHead(r.cidBytes, r.header.flags, r.header.rawSize, r.payload.length)
      this.moved.push({ cidBytes: live[0].cidBytes, old: live[0].old, entry: { ...live[0].old, pack: this.target, offset } })
      await this.#write(head, r.payload)
      return
    }
    const head = encodeFrameHead(r.members, r.header.flags, r.payload.length)
    for (const l of live) this.moved.push({ cidBytes: l.cidBytes, old: l.old, entry: { ...l.old, pack: this.target, offset, frame: { ...l.old.frame!, payloadAt: head.length } } })
    await this.#write(head, r.payload)
  }

  async reframe (l: { cidBytes: Uint8Array, old: IndexEntry, bytes: Uint8Array }): Promise<void> {
    if (this.#gatherBytes > 0 && this.#gatherBytes + l.bytes.length > STORE_FRAME_RAW_BYTES) await this.#flushGather()
    this.#gather.push(l); this.#gatherBytes += l.bytes.length
  }

  async #flushGather (): Promise<void> {
    const g = this.#gather
    this.#gather = []; this.#gatherBytes = 0
    if (g.length === 0) return
    const offset = this.#pos
    const cids = g.map((l) => checkBlock(l.cidBytes, l.bytes)!.cid) // verified by the scan: parses
    if (g.length === 1) {
      const p = preparePayload(cids[0], g[0].bytes)
      const flags = p.compressed ? FLAG_ZSTD : 0
      this.moved.push({ cidBytes: g[0].cidBytes, old: g[0].old, entry: { pack: this.target, offset, length: p.payload.length, flags, rawSize: p.rawSize, frame: undefined } })
      await this.#write(encodeRecordHead(g[0].cidBytes, flags, p.rawSize, p.payload.length), p.payload)
      return
    }
    const f = prepareFrame(g.map((l, i) => ({ cid: cids[i] as CID, bytes: l.bytes })))
    const flags = f.compressed ? FLAG_ZSTD : 0
    const head = encodeFrameHead(g.map((l) => ({ cidBytes: l.cidBytes, rawSize: l.bytes.length })), flags, f.payload.length)
    let at = 0
    for (const l of g) {
      this.moved.push({ cidBytes: l.cidBytes, old: l.old, entry: { pack: this.target, offset, length: f.payload.length, flags, rawSize: l.bytes.length, frame: { at, rawSize: this.#sum(g), payloadAt: head.length } } })
      at += l.bytes.length
    }
    await this.#write(head, f.payload)
  }

  #sum (g: Array<{ bytes: Uint8Array }>): number { let n = 0; for (const l of g) n += l.bytes.length; return n }

  async #write (head: Uint8Array, payload: Uint8Array): Promise<void> {
    this.#bufs.push(head, payload)
    this.#pos += head.length + payload.length
    if (this.#pos - this.#bufStart >= WRITE_BYTES) await this.#drain()
  }

  async #drain (): Promise<void> {
    await this.parts.files.write(this.target, this.#bufStart, this.#bufs)
    this.#bufs = []; this.#bufStart = this.#pos
  }

  /** Writes what is left; resolves the new pack's length. */
  async finish (): Promise<number> {
    await this.#flushGather()
    await this.#drain()
    return this.#pos
  }
}

/**
 * Sweeps one sealed pack crash-safely: copies its live, verified records into a new pack,
 * fsyncs it, then in ONE synced index batch moves the live entries, deletes the garbage
 * ones and marks the old pack dead; only then deletes the old file (recovery deletes dead
 * packs a crash left behind). The switch runs between writer commits, and is abandoned when
 * `isProtected` now holds for any planned garbage (a concurrent write relied on it).
 * With `rewrite` false, a pack that keeps live records only loses the garbage's index
 * entries (see dropEntries).
 */
export async function compactPack (parts: StoreParts, plan: PackPlan, isProtected: (key: string) => boolean, rewrite = true): Promise<CompactResult> {
  const { files, index, table, writer } = parts
  const oldSize = await files.size(plan.pack)
  if (plan.live > 0 && !rewrite) return await dropEntries(parts, plan, isProtected)
  const target = plan.live > 0 ? table.nextPack++ : undefined
  const moved: MovedBlock[] = []
  const dropped: Array<{ cidBytes: Uint8Array, entry: IndexEntry }> = []
  let outPos = 0
  if (target !== undefined) {
    const out = new CompactOutput(parts, target, moved)
    for await (const r of scanPack(files, plan.pack, 0, oldSize, { resync: true })) {
      if (isStop(r)) continue // damaged bytes: left behind
      const live: Array<{ cidBytes: Uint8Array, old: IndexEntry, bytes: Uint8Array }> = []
      let dead = 0
      for (const b of blocksOf(plan.pack, r)) {
        const key = keyOfBytes(b.cidBytes)
        const e = plan.garbage.has(key) ? undefined : decodeEntry(index.chunks.getSync(b.cidBytes) ?? new Uint8Array())
        if (e === undefined || !sameLocation(e, b.entry)) { dead++; continue } // garbage, a duplicate or a dropped record
        if (b.bytes === undefined) { dropped.push({ cidBytes: Uint8Array.from(b.cidBytes), entry: e }); dead++; continue }
        live.push({ cidBytes: Uint8Array.from(b.cidBytes), old: e, bytes: b.bytes })
      }
      if (live.length === 0) continue
      // A record that is wholly live is copied as it is; live members of a partly dead frame are framed again.
      if (dead === 0) await out.copy(r, live)
      else for (const l of live) await out.reframe(l)
    }
    outPos = await out.finish()
    await files.sync()
  }
  const result: CompactResult = { removed: 0, removedRawBytes: 0, freedBytes: 0, corrupt: dropped.length, skipped: false }
  if (moved.length + dropped.length < plan.live) {
    // Live records the scan could not reach (a damaged region): never delete their pack.
    if (target !== undefined) await files.remove(target)
    return { ...result, corrupt: 0, skipped: true }
  }
  await writer.exclusive(async () => {
    const extra: IndexOp[] = moved.map((m) => ({ type: 'put', sublevel: 'chunks', key: m.cidBytes, value: encodeEntry(m.entry) }))
    const c = table.counters
    for (const m of moved) { countEntry(c, m.old, m.cidBytes.length, -1); countEntry(c, m.entry, m.cidBytes.length, 1) } // re-framed members change their share
    if (target !== undefined) extra.push({ type: 'put', sublevel: 'meta', key: `pack/${target}`, value: { tail: outPos } })
    extra.push({ type: 'put', sublevel: 'meta', key: `pack/${plan.pack}`, value: { tail: oldSize, dead: true } })
    if (!await switchIndex(parts, plan, isProtected, [...plan.garbage.values(), ...dropped], extra, result)) {
      result.skipped = true
      return
    }
    if (target !== undefined) table.packs.set(target, { tail: outPos })
    table.packs.set(plan.pack, { tail: oldSize, dead: true })
  })
  if (result.skipped) {
    if (target !== undefined) await files.remove(target)
    result.corrupt = 0
    return result
  }
  await files.remove(plan.pack)
  await index.batch([{ type: 'del', sublevel: 'meta', key: `pack/${plan.pack}` }], false)
  table.packs.delete(plan.pack)
  result.freedBytes = oldSize - outPos
  return result
}

/**
 * Removes the garbage of a pack from the index only: the blocks read as absent at once, and
 * their bytes stay in the pack as dead space until a later gc rewrites it (cheap when little
 * of a large pack is garbage). Crash-safe: recovery never re-indexes below a pack's tail.
 */
async function dropEntries (parts: StoreParts, plan: PackPlan, isProtected: (key: string) => boolean): Promise<CompactResult> {
  const result: CompactResult = { removed: 0, removedRawBytes: 0, freedBytes: 0, corrupt: 0, skipped: false }
  await parts.writer.exclusive(async () => {
    if (!await switchIndex(parts, plan, isProtected, plan.garbage.values(), [], result)) result.skipped = true
  })
  return result
}

/** An index entry to delete: the record's CID bytes and where it was. */
interface DroppedRecord { readonly cidBytes: Uint8Array, readonly entry: IndexEntry }

/**
 * The index switch of both sweeps, run under the writer's lock. Abandoned (resolves false)
 * when a block planned as garbage became protected. Otherwise the garbage is marked doomed for
 * lookups, and the entries of `drop` are deleted (counted in `result` and the store counters)
 * together with `extra`, in ONE synced batch.
 */
async function switchIndex (parts: StoreParts, plan: PackPlan, isProtected: (key: string) => boolean,
  drop: Iterable<DroppedRecord>, extra: IndexOp[], result: CompactResult): Promise<boolean> {
  const { index, table, guard } = parts
  // Synchronous from here to the batch call: no lookup can rely on a garbage block unseen.
  for (const g of plan.garbage.values()) if (isProtected(g.key)) return false
  guard.epoch++
  for (const g of plan.garbage.values()) guard.doomed.add(g.key)
  const ops = extra
  const c = table.counters
  for (const g of drop) {
    ops.push({ type: 'del', sublevel: 'chunks', key: g.cidBytes })
    countEntry(c, g.entry, g.cidBytes.length, -1)
    result.removed++; result.removedRawBytes += g.entry.rawSize
  }
  ops.push({ type: 'put', sublevel: 'meta', key: 'counters', value: c })
  try {
    await index.batch(ops, true)
  } finally {
    guard.epoch++
    guard.doomed.clear()
  }
  return true
}
