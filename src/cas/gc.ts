import { CID } from 'multiformats/cid'
import { hasCode } from '../util/coded-error.js'
import { ChunkInvalidError } from './errors.js'
import type { AbortOptions, ChunkReader } from './interface.js'
import { walkDag } from './links.js'
import { compactPack, type CompactResult, type PackPlan } from './store/compact.js'
import { keyOfBytes } from './store/guard.js'
import type { LocalStore, StoreParts } from './store/local.js'
import { decodeEntry, storedBytesOf } from './store/pack-format.js'

export interface GcOptions extends AbortOptions {
  /** Plan and report only; change nothing. */
  readonly dryRun?: boolean
  /**
   * Rewrite a pack that keeps live blocks only when at least this fraction of it would be
   * freed (default 0.1); below that its garbage only leaves the index (it reads as absent at
   * once) and its bytes wait, as `reclaimableBytes`, for a later run. 0 rewrites every pack
   * with garbage. Packs with nothing live are always deleted.
   */
  readonly repackThreshold?: number
  /** Called after each pack is swept. */
  readonly onPack?: (done: number, total: number) => void
}

/** What a GC run found and freed. */
export interface GcReport {
  pins: number
  /** Blocks reachable from the pins (present or not). */
  reachable: number
  /** Linking blocks under a pin that are absent (their subtrees could not be walked). */
  missing: number
  /** Unpinned blocks kept because a write in flight stored or relied on them. */
  protected: number
  removedChunks: number
  removedRawBytes: number
  /** Bytes of pack files deleted minus bytes of packs written. */
  freedBytes: number
  /** Dead bytes left in packs below the repack threshold (a later gc, or --repack-all, frees them). */
  reclaimableBytes: number
  packsRewritten: number
  packsDeleted: number
  /** Packs left alone because a concurrent write started relying on their garbage. */
  packsSkipped: number
  /** Reachable blocks that failed verification while being moved (now absent: fetch them again). */
  corrupt: number
  dryRun: boolean
}

/**
 * Removes every block not reachable from a pin and not protected by a write in flight
 * (WriteLease, or any put/has/missing while GC runs): deletes sealed packs with nothing
 * live, rewrites those where enough would be freed (repackThreshold), and drops the rest's
 * garbage from the index (see store/compact.ts). Blocks pinned while it runs are marked before any
 * sweep. Safe to interrupt at any point (kill -9 included). Not reentrant: the store
 * serializes gc and fsck.
 */
export async function collectGarbage (store: LocalStore, options: GcOptions = {}): Promise<GcReport> {
  const parts = store.parts
  const { guard } = parts
  guard.beginGc()
  try {
    const sealBelow = await parts.writer.seal()
    const marked = new Set<string>()
    const report: GcReport = { pins: 0, reachable: 0, missing: 0, protected: 0, removedChunks: 0, removedRawBytes: 0, freedBytes: 0, reclaimableBytes: 0, packsRewritten: 0, packsDeleted: 0, packsSkipped: 0, corrupt: 0, dryRun: options.dryRun === true }
    const pins = await store.pins()
    report.pins = pins.length
    // A node that fails its hash is dropped by get() and counted as missing, like an absent one.
    const reader: ChunkReader = {
      has: async (cid) => await store.has(cid),
      get: async (cid) => { try { return await store.get(cid) } catch (err) { if (hasCode(err, ChunkInvalidError.code)) return undefined; throw err } }
    }
    const walk = async (roots: CID[]): Promise<void> => {
      for await (const _ of walkDag(reader, roots, { visited: marked, onMissing: 'skip', missing: () => { report.missing++ }, signal: options.signal })) { /* marking */ }
    }
    await walk(pins.map((p) => p.root))
    const settle = async (): Promise<void> => {
      while (guard.lateRoots.length > 0) await walk(guard.lateRoots.splice(0).map((b) => CID.decode(b)))
    }
    await settle()
    const plans = await planSweep(parts, sealBelow, marked, report)
    report.reachable = marked.size
    const threshold = options.repackThreshold ?? DEFAULT_REPACK_THRESHOLD
    const todo: Array<{ plan: PackPlan, rewrite: boolean, waste: number }> = []
    for (const plan of plans.values()) {
      const waste = await parts.files.size(plan.pack) - plan.liveBytes
      const rewrite = plan.live === 0 || (waste > 0 && waste >= threshold * (waste + plan.liveBytes))
      if (rewrite || plan.garbage.size > 0) todo.push({ plan, rewrite, waste }); else report.reclaimableBytes += waste
    }
    let done = 0
    for (const { plan, rewrite, waste } of todo) {
      options.signal?.throwIfAborted()
      if (report.dryRun) {
        for (const g of plan.garbage.values()) { report.removedChunks++; report.removedRawBytes += g.entry.rawSize }
        if (rewrite) report.freedBytes += waste; else report.reclaimableBytes += waste
        continue
      }
      // Roots pinned meanwhile are walked first; while any wait unwalked, everything counts as
      // protected (compactPack then skips) and the pack is tried again.
      const isProtected = (key: string): boolean => guard.lateRoots.length > 0 || marked.has(key) || guard.isTouched(key)
      let r = await sweepOnce(plan, settle, isProtected, parts, rewrite)
      for (let tries = 1; r.skipped && tries < SWEEP_TRIES; tries++) r = await sweepOnce(plan, settle, isProtected, parts, rewrite)
      if (r.skipped) report.packsSkipped++
      else if (!rewrite) report.reclaimableBytes += waste
      else if (plan.live > 0) report.packsRewritten++
      else report.packsDeleted++
      report.removedChunks += r.removed; report.removedRawBytes += r.removedRawBytes
      report.freedBytes += r.freedBytes; report.corrupt += r.corrupt
      options.onPack?.(++done, todo.length)
    }
    return report
  } finally {
    guard.endGc()
  }
}

const SWEEP_TRIES = 3
const DEFAULT_REPACK_THRESHOLD = 0.1

/** Walks late roots, turns planned garbage that became protected into live records, sweeps. */
async function sweepOnce (plan: PackPlan, settle: () => Promise<void>, isProtected: (key: string) => boolean, parts: StoreParts, rewrite: boolean): Promise<CompactResult> {
  await settle()
  for (const [key, g] of plan.garbage) {
    if (isProtected(g.key)) { plan.garbage.delete(key); plan.live++; plan.liveBytes += storedBytesOf(g.entry, g.cidBytes.length) }
  }
  return await compactPack(parts, plan, isProtected, rewrite)
}

/** One pass over the index: live and garbage entries of every sealed pack (and packs with none). */
async function planSweep (parts: StoreParts, sealBelow: number, marked: Set<string>, report: GcReport): Promise<Map<number, PackPlan>> {
  const plans = new Map<number, PackPlan>()
  const planOf = (pack: number): PackPlan => {
    let p = plans.get(pack)
    if (p === undefined) { p = { pack, garbage: new Map(), live: 0, liveBytes: 0 }; plans.set(pack, p) }
    return p
  }
  for await (const [k, v] of parts.index.chunks.iterator()) {
    const e = decodeEntry(v)
    if (e === undefined || e.pack >= sealBelow) continue
    const key = keyOfBytes(k)
    const plan = planOf(e.pack)
    if (marked.has(key) || parts.guard.isTouched(key)) {
      if (!marked.has(key)) report.protected++
      plan.live++; plan.liveBytes += storedBytesOf(e, k.length)
    } else plan.garbage.set(key, { key, cidBytes: k, entry: e })
  }
  const onDisk = new Set((await parts.files.list()).packs)
  for (const n of onDisk) if (n < sealBelow && parts.table.packs.get(n)?.dead !== true) planOf(n)
  for (const n of plans.keys()) if (!onDisk.has(n)) plans.delete(n) // a lost pack: fsck's business
  for (const r of parts.writer.pending.values()) plans.delete(r.entry.pack) // never true after seal(); cheap insurance
  return plans
}
