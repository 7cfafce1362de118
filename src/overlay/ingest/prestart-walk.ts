import { STORE_FRAME_RAW_BYTES, STORE_ZSTD_LEVEL } from '../../cas/compress-policy.js'
import { NativeIngestThreads } from './native-thread.js'
import { MAX_PROBE_CHUNKS, type WorkerInit } from './protocol.js'

/** Payload bytes a native thread may have posted and not yet stored (the pool's MAX_IN_FLIGHT_BYTES). */
export const NATIVE_IN_FLIGHT_BYTES_PER_THREAD = 8 * 1024 * 1024
/** Slots of the threads' shared dedup table (8 bytes each): dedups up to 3/4 of this many chunks (~200k, 12 GiB at 64 KiB). */
export const SEEN_SLOTS = 1 << 18
/**
 * Files from this size on are split across threads by the pool (its default bigFileBytes):
 * one thread finds the cuts of the whole file first (a serial pass that reads and cuts it
 * once more), then every thread hashes and compresses ranges. Smaller files are one job
 * each; from 4 MiB on the walker queues them ahead of the small files (native/ingest-walk.inc
 * FRONT_FILE_BYTES), so the next free thread takes each at once. t1's one large file, the
 * 50 MB apt Packages list, is cheaper as one job (8 MiB here before; see the README, Ingest).
 */
export const BIG_FILE_BYTES = 64 * 1024 * 1024

/** The WorkerInit of a group of `threads` native threads (IngestPool makes the same for its own). */
export function nativeInit (threads: number, level: number, frameBytes: number, probe: boolean): WorkerInit {
  return {
    credit: new SharedArrayBuffer(4),
    answer: new SharedArrayBuffer(8 + MAX_PROBE_CHUNKS),
    level,
    frameBytes,
    probe,
    seen: new SharedArrayBuffer((SEEN_SLOTS + 1) * 8),
    maxInFlightBytes: NATIVE_IN_FLIGHT_BYTES_PER_THREAD * threads
  }
}

let started: NativeIngestThreads | undefined

/**
 * Starts the native ingest threads and their walker over the directory `root` (a real path)
 * before the import command and the store have loaded (~0.13 s of module loading, then
 * LevelDB): files are read, cut, hashed and compressed meanwhile, and their messages wait
 * for the pool that adopts the group (takePrestartedWalk). Settings are those of a CLI import
 * into a LocalStore. Light on purpose: this module loads neither zstd-napi nor multiformats.
 */
export function prestartWalk (root: string, threads: number, probe: boolean): void {
  if (started !== undefined) return
  const group = new NativeIngestThreads(nativeInit(threads, STORE_ZSTD_LEVEL, STORE_FRAME_RAW_BYTES, probe), threads)
  group.walk(root, WALK_FIRST_ID, threads > 1 ? BIG_FILE_BYTES : Infinity)
  started = group
}

/** Ids of the jobs a native walker queues start here (an IngestPool's own ids stay below). */
export const WALK_FIRST_ID = 2 ** 40

/** The prestarted group when it walks `root` (the caller owns it then), else undefined (and it is stopped). */
export function takePrestartedWalk (root: string): NativeIngestThreads | undefined {
  const group = started
  started = undefined
  if (group === undefined) return undefined
  if (group.walkRoot === root) return group
  void group.terminate()
  return undefined
}

/** Stops a prestarted group nobody adopted (e.g. the command failed first). Idempotent. */
export function releasePrestartedWalk (): void {
  const group = started
  started = undefined
  if (group !== undefined) void group.terminate()
}
