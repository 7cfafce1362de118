import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { STORE_ZSTD_LEVEL } from '../compress.js'
import { FrameCache } from './frame-cache.js'
import { WriteGuard } from './guard.js'
import { IndexDb } from './index-db.js'
import { LocalStore } from './local.js'
import { PackFiles } from './pack-files.js'
import { recover } from './recover.js'
import { PackWriter, type PackTable } from './writer.js'

export interface LocalStoreOptions {
  /** A pack is closed and a new one started past this size (default 64 MiB). */
  readonly packSizeBytes?: number
  /** zstd level for put() and GC's re-framing (default STORE_ZSTD_LEVEL, 2; 0 stores put() blocks uncompressed). */
  readonly compressionLevel?: number
  /** Wait up to this long for another process to release the store (default 0: fail at once). */
  readonly lockWaitMs?: number
}

export const DEFAULT_PACK_SIZE_BYTES = 64 * 1024 * 1024

/*
 * Layout (chosen by bench/store.bench.ts on the 187 MiB Debian sample, 6.8k CDC chunks):
 *   dir/packs/NNNNNN.pack   append-only packs of self-describing records (pack-format.ts):
 *                           blocks, and frames of several chunks compressed together (the
 *                           importer's); zstd level 2 payloads when that is smaller; rolled at 64 MiB
 *   dir/index/              LevelDB: CID -> {pack, offset, length, flags, raw size[, frame slot]}; pins; meta
 * One file per chunk (tmp + rename in 256 fan-out folders) wrote 10-18 MiB/s here, packs
 * 100+ MiB/s on the same chunks, with one inode per 64 MiB instead of one per chunk (a busy
 * cache holds millions) and one fsync per flush instead of one per chunk.
 *
 * Durability: a commit writes records (write-behind, 8 MiB at a time, at most 24 MiB waiting), then indexes them;
 * flush()/pin()/close() fsync the packs before a synced index batch. After kill -9 the
 * kernel still has every write(2), so opening re-indexes whole valid records past each
 * pack's indexed tail and cuts a torn one (recover.ts). After a power loss an index entry
 * may point at lost bytes: reads verify every block, so that reads as corrupt and is dropped.
 *
 * Concurrency: one process at a time, enforced by LevelDB's LOCK (fcntl; released by the
 * kernel when the holder dies): a second open rejects CAS_STORE_LOCKED, or waits lockWaitMs.
 * Within the process, imports (WriteLease), gc and fsck coordinate through guard.ts, so a
 * daemon can collect garbage while it pulls and imports. A CLI gc started during a CLI
 * import fails fast (or waits with --wait) and so can never sweep the import's chunks.
 */

/**
 * Opens (creating) the local chunk store in `dir`: `dir/packs/NNNNNN.pack` append-only
 * pack files and a LevelDB index in `dir/index`. Recovers from any earlier crash before
 * resolving (see `recovery`). One process at a time: rejects CAS_STORE_LOCKED when another
 * holds the store longer than `lockWaitMs`.
 */
export async function openLocalStore (dir: string, options: LocalStoreOptions = {}): Promise<LocalStore> {
  await mkdir(dir, { recursive: true })
  const index = await IndexDb.open(join(dir, 'index'), dir, options.lockWaitMs ?? 0)
  try {
    const files = new PackFiles(join(dir, 'packs'))
    await files.init()
    const table: PackTable = { packs: new Map(), counters: { chunks: 0, rawBytes: 0, storedBytes: 0, framedChunks: 0 }, nextPack: 1, activePack: 0, activeSize: 0 }
    const recovery = await recover(files, index, table)
    recovery.indexRepaired = index.repaired
    const limit = options.packSizeBytes ?? DEFAULT_PACK_SIZE_BYTES
    const last = table.nextPack - 1
    const lastState = table.packs.get(last)
    const usable = !recovery.damagedPacks.includes(last) && !recovery.foundPacks.includes(last)
    if (lastState !== undefined && lastState.dead !== true && usable && lastState.tail < limit) {
      table.activePack = last; table.activeSize = lastState.tail
    } else table.activePack = table.nextPack++
    const writer = new PackWriter(files, index, table, limit)
    return new LocalStore({ dir, files, index, table, writer, guard: new WriteGuard(), frames: new FrameCache() }, recovery, options.compressionLevel ?? STORE_ZSTD_LEVEL)
  } catch (err) {
    await index.close()
    throw err
  }
}

