import { keyOfBytes } from './guard.js'
import type { IndexDb, IndexOp, PackState } from './index-db.js'
import type { PackFiles } from './pack-files.js'
import { decodeEntry, encodeEntry } from './pack-format.js'
import { blocksOf, isStop, scanPack } from './pack-scan.js'
import { countEntry, type PackTable } from './writer.js'

/** What opening the store found and fixed. All zero after a clean close. */
export interface RecoveryReport {
  /** Records past an indexed tail that verified and were added to the index. */
  reindexed: number
  /** Records past an indexed tail whose block was already indexed (left as garbage for gc). */
  duplicates: number
  /** Bytes cut from pack tails that were not whole, valid records (torn writes). */
  truncatedBytes: number
  /** Packs marked dead by a finished compaction whose files were deleted now. */
  deadPacksRemoved: number
  /** Packs the index knows but whose files are gone or shorter than indexed (see fsck). */
  damagedPacks: number[]
  /** Pack files the index did not know (a crash mid-compaction, or copied in); never appended to. */
  foundPacks: number[]
  /** Of those, packs holding nothing new (every record already indexed): deleted now. */
  foundPacksRemoved: number
  /** The LevelDB index was corrupt and LevelDB's repair ran before opening. */
  indexRepaired: boolean
}

/**
 * Brings packs and index back in step after any stop, clean or not: deletes dead packs,
 * and for every pack longer than its indexed tail re-indexes the whole records that verify
 * and truncates the rest (a torn write). Runs before the store accepts calls.
 */
export async function recover (files: PackFiles, index: IndexDb, table: PackTable): Promise<RecoveryReport> {
  const report: RecoveryReport = { reindexed: 0, duplicates: 0, truncatedBytes: 0, deadPacksRemoved: 0, damagedPacks: [], foundPacks: [], foundPacksRemoved: 0, indexRepaired: false }
  for await (const [key, value] of index.meta.iterator({ gt: 'pack/', lt: 'pack0' })) {
    table.packs.set(Number(key.slice(5)), value as unknown as PackState)
  }
  const counters = await index.meta.get('counters') as unknown as PackTable['counters'] | undefined
  if (counters !== undefined) Object.assign(table.counters, counters)
  const onDisk = (await files.list()).packs
  const ops: IndexOp[] = []
  const removed = new Set<number>()
  for (const [n, state] of table.packs) {
    if (state.dead === true) {
      await files.remove(n)
      removed.add(n)
      table.packs.delete(n)
      ops.push({ type: 'del', sublevel: 'meta', key: `pack/${n}` })
      report.deadPacksRemoved++
    } else if (!onDisk.includes(n)) report.damagedPacks.push(n)
  }
  const seen = new Set<string>() // keys indexed by this recovery (its batch is not applied yet)
  for (const n of onDisk) {
    if (removed.has(n)) continue
    const found = !table.packs.has(n)
    const before = report.reindexed
    await recoverTail(files, index, table, n, ops, report, seen)
    if (!found) continue
    report.foundPacks.push(n)
    if (report.reindexed === before) {
      // A compaction's output from before its index switch (or a copy): nothing in it is new.
      await files.remove(n)
      removed.add(n)
      table.packs.delete(n)
      const at = ops.findIndex((op) => op.sublevel === 'meta' && op.key === `pack/${n}`)
      if (at >= 0) ops.splice(at, 1)
      report.foundPacksRemoved++
    }
  }
  const all = [...table.packs.keys(), ...onDisk, ...removed]
  table.nextPack = all.length === 0 ? 1 : Math.max(...all) + 1
  if (ops.length > 0) {
    ops.push({ type: 'put', sublevel: 'meta', key: 'counters', value: table.counters })
    await files.sync()
    await index.batch(ops, true)
  }
  return report
}

async function recoverTail (files: PackFiles, index: IndexDb, table: PackTable, n: number, ops: IndexOp[], report: RecoveryReport, seen: Set<string>): Promise<void> {
  const state = table.packs.get(n) ?? { tail: 0 }
  const size = await files.size(n)
  if (size < state.tail) { report.damagedPacks.push(n); return }
  if (size === state.tail) { table.packs.set(n, state); return }
  let end = size
  for await (const r of scanPack(files, n, state.tail, size)) {
    if (isStop(r)) { end = r.offset; break }
    const blocks = blocksOf(n, r)
    // Garbage after a crash (a frame is whole or not at all): cut from here.
    if (blocks.some((b) => b.bytes === undefined)) { end = r.offset; break }
    for (const b of blocks) {
      const key = keyOfBytes(b.cidBytes)
      const existing = seen.has(key) ? true : decodeEntry(index.chunks.getSync(b.cidBytes) ?? new Uint8Array()) !== undefined
      if (existing) { report.duplicates++; continue }
      seen.add(key)
      ops.push({ type: 'put', sublevel: 'chunks', key: Uint8Array.from(b.cidBytes), value: encodeEntry(b.entry) })
      countEntry(table.counters, b.entry, b.cidBytes.length, 1)
      report.reindexed++
    }
  }
  if (end < size) { await files.truncate(n, end); report.truncatedBytes += size - end }
  state.tail = end
  table.packs.set(n, state)
  ops.push({ type: 'put', sublevel: 'meta', key: `pack/${n}`, value: state })
}
