import { storeAddon } from '../cas/addon.js'

/**
 * glibc malloc arenas a server may use (MALLOC_ARENA_MAX overrides). By default each thread
 * that allocates under contention gets its own, up to 8 per core, and the NFS load run's RSS grew
 * outside V8's heap (3-minute runs: 81 -> 104 MiB by default, 74 -> 85 MiB with 2 arenas).
 */
const SERVER_MALLOC_ARENAS = 2
/**
 * How often a server hands glibc's free pages back to the kernel. glibc returns memory only from
 * the top of a heap: in the NFS load run it kept 40-60 MiB free inside its heaps (mallinfo2)
 * beside 33 MiB in use, and RSS rose with whatever the busiest moment had left behind.
 * malloc_trim(0) gives back every whole free page (3-15 ms per call in the load run, once
 * 36 ms). `XENO_MALLOC_TRIM_MS` sets the period, 0 turns it off. A fixed mmap threshold
 * (M_MMAP_THRESHOLD 128 KiB) kept less free still but cost a cold 256 MiB NFS read ~25% more
 * server CPU (every decompressed frame in fresh zeroed pages): not taken.
 */
const TRIM_EVERY_MS = 5_000

/** What the periodic trim has done, for a server's --stats line. */
export const mallocTrimStats = { runs: 0, released: 0, lastMs: 0 }

/**
 * How often any other command (an import, an export, a pull: minutes over many files) hands
 * glibc's free pages back: 100,000 small files imported peaked at 333-352 MiB RSS without it
 * and 291 MiB with it (glibc kept up to 98 MiB free in its heaps); t1's CPU was unchanged.
 */
const COMMAND_TRIM_EVERY_MS = 1_000
/**
 * A command trims only when glibc holds at least this much free (asking costs ~0.1 ms, a trim
 * 1-15 ms; exporting a 1 GiB file called it 8 times for 108 ms while little was free).
 */
const COMMAND_TRIM_MIN_FREE_BYTES = 16 * 1024 * 1024

/**
 * Settings for a process that runs for days (`nfs serve`, `store serve`), whose memory must
 * stay level: called before libuv's thread pool exists (threads that start later share the
 * capped arenas), it caps the arenas and starts the periodic trim (unref'd: it never keeps the
 * process alive). Does nothing where the addon or glibc is missing.
 */
export function settleServerMemory (): void {
  const addon = storeAddon()
  if (addon === null) return
  if (process.env.MALLOC_ARENA_MAX === undefined) addon.mallocArenaMax?.(SERVER_MALLOC_ARENAS)
  startMallocTrim(TRIM_EVERY_MS)
}

/** For every other command: the periodic trim only (a command that ends within a second never runs it). */
export function settleCommandMemory (): void {
  startMallocTrim(COMMAND_TRIM_EVERY_MS, COMMAND_TRIM_MIN_FREE_BYTES)
}

/**
 * Calls malloc_trim every `defaultMs` (or `XENO_MALLOC_TRIM_MS`; 0 = never), on an unref'd
 * timer, when glibc holds at least `minFreeBytes` free.
 */
function startMallocTrim (defaultMs: number, minFreeBytes = 0): void {
  const addon = storeAddon()
  const trim = addon?.mallocTrim
  const every = Number(process.env.XENO_MALLOC_TRIM_MS ?? defaultMs)
  if (trim === undefined || !(every > 0)) return
  setInterval(() => {
    if (minFreeBytes > 0 && (addon?.mallocInfo?.()?.free ?? Infinity) < minFreeBytes) return
    const started = performance.now()
    if (trim()) mallocTrimStats.released++
    mallocTrimStats.runs++
    mallocTrimStats.lastMs = performance.now() - started
  }, every).unref()
}
