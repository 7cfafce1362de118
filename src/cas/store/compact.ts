import type { IndexOp } from './index-db.js'
import type { StoreParts } from './local.js'
import { decodeEntry, encodeEntry, encodeRecordHead, RECORD_HEADER_BYTES, type IndexEntry } from './pack-format.js'
import { isStop, openPayload, scanPack } from './pack-scan.js'

/** What GC decided about one sealed pack. */
export interface PackPlan {
  readonly pack: number
  /** Index entries in this pack that nothing protects, by record offset. */
  readonly garbage: Map<number, { key: string, cidBytes: Uint8Array, entry: IndexEntry }>
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
  const moved: Array<{ cidBytes: Uint8Array, entry: IndexEntry }> = []
  const dropped: Array<{ cidBytes: Uint8Array, entry: IndexEntry }> = []
  let outPos = 0
  if (target !== undefined) {
    let bufs: Uint8Array[] = []
    let bufStart = 0
    for await (const r of scanPack(files, plan.pack, 0, oldSize, { resync: true })) {
      if (isStop(r)) continue // damaged bytes: left behind
      if (plan.garbage.has(r.offset)) continue
      const e = decodeEntry(index.chunks.getSync(r.cidBytes) ?? new Uint8Array())
      if (e === undefined || e.pack !== plan.pack || e.offset !== r.offset) continue // a duplicate or dropped record
      if (openPayload(r.cidBytes, r.header.flags, r.header.rawSize, r.payload) === undefined) { dropped.push({ cidBytes: Uint8Array.from(r.cidBytes), entry: e }); continue }
      bufs.push(encodeRecordHead(r.cidBytes, r.header.flags, r.header.rawSize, r.payload.length), r.payload)
      moved.push({ cidBytes: Uint8Array.from(r.cidBytes), entry: { ...e, pack: target, offset: outPos } })
      outPos += r.length
      if (outPos - bufStart >= WRITE_BYTES) { await files.write(target, bufStart, bufs); bufs = []; bufStart = outPos }
    }
    await files.write(target, bufStart, bufs)
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
    c.chunks--; c.rawBytes -= g.entry.rawSize; c.storedBytes -= RECORD_HEADER_BYTES + g.cidBytes.length + g.entry.length
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
