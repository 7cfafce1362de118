import { storeAddon } from '../cas/addon.js'
import { AddonMissingError } from '../cas/errors.js'
import { GEAR } from '../cas/chunker/cdc.js'

/**
 * The POSIX calls Node lacks, and the ingest workers' native loop, from the addon native/*.c (built by scripts/build-native.mjs
 * into build/Release/xeno_posix.node). All synchronous, one syscall each; errors are Node-style
 * (`code` 'ENOENT' etc., `syscall`, `path`).
 */
export interface Posix {
  /** utimensat(AT_SYMLINK_NOFOLLOW) with nanosecond times. */
  utimens (path: string, atimeNs: bigint, mtimeNs: bigint): void
  /** futimens(2) on an open file, nanosecond times. */
  futimens (fd: number, atimeNs: bigint, mtimeNs: bigint): void
  /** mknod(2); `mode` includes the S_IF* type bits (char, block, fifo, socket). */
  mknod (path: string, mode: number, major: number, minor: number): void
  /** Every extended attribute of `path` itself (llistxattr + lgetxattr), or null if none. */
  lxattrs (path: string): Record<string, Uint8Array> | null
  /** lsetxattr(2). */
  lsetxattr (path: string, name: string, value: Uint8Array): void
  /** Loads the chunker's gear table (src/cas/chunker/cdc.ts GEAR) for cdcCuts. */
  cdcInit (gear: Uint32Array): void
  /**
   * The chunk lengths of `data` by the FastCDC rule of findBoundary (same cuts): as many whole
   * chunks as `data` holds, and the remainder too when `final`.
   */
  cdcCuts (data: Uint8Array, final: boolean, minSize: number, avgSize: number, maxSize: number): Uint32Array
  /**
   * One directory: names sorted by bytes, their lstat fields (SCAN_* offsets, SCAN_FIELDS per
   * name), symlink targets and xattrs. Throws code EILSEQ for a name that is not UTF-8.
   */
  scandir (path: string): ScanResult
  /** The ingest workers' native state (native/ingest.c); one per worker thread. */
  ingestCreate (options: IngestNativeOptions): IngestHandle
  /**
   * Reads, cuts, hashes, dedups, frames and compresses the file at `path` into the message
   * buffers (ingest/protocol.ts layouts; `st` = [out bytes, chunks, cid bytes, records]).
   * 0 when the file is done, INGEST_FULL when the buffers are full (post them, then call
   * again with the same arguments: the file resumes), or a negative errno (file closed).
   */
  ingestFile (h: IngestHandle, path: string, file: number, out: Uint8Array, meta: Float64Array, cids: Uint8Array, records: Float64Array, st: Float64Array): number
  /**
   * One chunk into the message buffers (hashed in C unless its binary CID is given):
   * 0, or INGEST_FULL with nothing consumed. `present`: the store already has it.
   */
  ingestRecord (h: IngestHandle, file: number, bytes: Uint8Array, present: boolean, out: Uint8Array, meta: Float64Array, cids: Uint8Array, records: Float64Array, st: Float64Array, cid?: Uint8Array): number
  /** Compresses the open frame into the message buffers (before posting them). */
  ingestCloseFrame (h: IngestHandle, out: Uint8Array, meta: Float64Array, cids: Uint8Array, records: Float64Array, st: Float64Array): void
  /**
   * A group of `threads` native ingest threads sharing one job queue (native/ingest-thread.c):
   * `options` are ingestCreate's plus `probe` and `maxInFlightBytes` (for the group); messages
   * (ingest/protocol.ts) go to `onMessage` on this thread.
   */
  threadCreate (options: IngestNativeOptions & { probe: boolean, maxInFlightBytes: number, threads: number }, onMessage: (msg: any) => void): IngestHandle
  /** Queues a batch of file, cuts or range jobs for the next free thread. */
  threadPost (h: IngestHandle, jobs: ReadonlyArray<{ id: number, path?: string, cutsOnly?: boolean, offset?: number, lengths?: Uint32Array }>): void
  /** Returns payload credit. */
  threadCredit (h: IngestHandle, bytes: number): void
  /** Detaches a result message's payload buffer (its memory is freed now, not at the next GC). */
  threadFreeBuffer (buffer: ArrayBuffer): void
  /** Answers probe `seq` of thread `thread`. */
  threadAnswer (h: IngestHandle, thread: number, seq: number, missing: Uint8Array): void
  /** Stops and joins the threads. */
  threadClose (h: IngestHandle): void
  /**
   * Starts the group's directory walker (native/ingest-walk.inc, once per group): it posts a
   * DirListing per directory in walk order and queues a file job for each regular file below
   * `bigFileBytes` (the first name of a hard-linked inode only), ids from `firstId` on.
   */
  threadWalk (h: IngestHandle, root: string, options: { firstId: number, bigFileBytes: number }): void
  /**
   * The directory node of a listing (the bytes of dir-write-encode.ts encodeDirEntriesFast):
   * its binary CID (36 bytes), then its bytes; of entries [start, end) when given (a shard).
   * Per entry i: `cids` bytes [36i, 36i + 36) its content CID (zero: none), `sizes[i]` its
   * content size (files), `links[i]` its hard-link leader. Not for a `fallback` listing.
   */
  listingEncode (h: ListingHandle, cids: Uint8Array, sizes: Float64Array, links: Array<string | undefined> | undefined, start?: number, end?: number): Uint8Array
  /**
   * Where the shards of a listing's directory end (dir-write.ts splitGroups: tree format v1),
   * ascending: one group of all entries unless it holds more than MAX_DIR_ENTRIES. Each group
   * is listingEncode(…, start, end) of the ends before and at it.
   */
  listingGroups (h: ListingHandle): Uint32Array
  /** The name of entry `i` of a listing. */
  listingName (h: ListingHandle, i: number): string
  /** A listing's entries as scandir gives them. */
  listingScan (h: ListingHandle): ScanResult
  /** The binary CIDv1 (raw codec, BLAKE3-256) of `bytes`: 36 bytes (native/blake3.c). */
  rawCid (bytes: Uint8Array): Uint8Array
  /** BLAKE3-256 of `bytes` (native/blake3.c). */
  blake3 (bytes: Uint8Array): Uint8Array
}

/** Opaque native ingest state (an N-API external). */
export type IngestHandle = object & { readonly __ingestHandle?: never }

export interface IngestNativeOptions {
  /** zstd level of frames (0: stored raw). */
  readonly level: number
  /** Largest raw frame of consecutive new chunks; 0: one record per chunk. */
  readonly frameBytes: number
  /** compress-policy.ts MIN_COMPRESS_BYTES and MIN_SAVING_BYTES. */
  readonly minCompress: number
  readonly minSaving: number
  /** Chunker parameters (CHUNKER_V1). */
  readonly min: number
  readonly avg: number
  readonly max: number
  /** Read window (at least `max`). */
  readonly windowBytes: number
  /** The import's shared dedup table (ingest/protocol.ts WorkerInit.seen). */
  readonly seen: BigInt64Array
}

/** ingestFile/ingestRecord: the message buffers are full; post them and call again. */
export const INGEST_FULL = 1

export interface ScanResult {
  readonly names: string[]
  readonly stats: Float64Array
  readonly targets: Array<string | undefined>
  readonly xattrs: Array<Record<string, Uint8Array> | null>
}

/**
 * One directory from a native walker (Posix.threadWalk), in walk order: a ScanResult plus the
 * job id of each entry (0: no job; a directory, a special file, a later name of a hard-linked
 * inode or a file the pool splits itself), or the error that stopped the walk there.
 */
export type DirListing = { readonly type: 'dir', readonly path: string } & (
  { readonly n: number, readonly stats: Float64Array, readonly ids: Float64Array, readonly handle: ListingHandle, readonly fallback: boolean, readonly error?: undefined } |
  { readonly error: { code: string, message: string, syscall: string, path: string, errno: number } })

/**
 * The native side of a DirListing: names, targets and xattrs stay there (listingEncode writes
 * the directory node from them; listingScan gives them to JS). `fallback`: the node needs
 * dir-write.ts (a symlink target or xattr name that is not UTF-8, or more than 64 xattrs).
 */
export type ListingHandle = object & { readonly __listingHandle?: never }

/** Field offsets in ScanResult.stats. */
export const SCAN = {
  MODE: 0, UID: 1, GID: 2, SIZE: 3, NLINK: 4, DEV_HI: 5, DEV_LO: 6, INO_HI: 7, INO_LO: 8,
  RDEV_MAJOR: 9, RDEV_MINOR: 10, MTIME_SEC: 11, MTIME_NSEC: 12
} as const
export const SCAN_FIELDS = 13

export const S_IFMT = 0o170000
export const S_IFSOCK = 0o140000
export const S_IFLNK = 0o120000
export const S_IFREG = 0o100000
export const S_IFBLK = 0o060000
export const S_IFDIR = 0o040000
export const S_IFCHR = 0o020000
export const S_IFIFO = 0o010000

let loaded: Posix | undefined

/** The addon (loaded by cas/addon.ts, its one loader); throws AddonMissingError if it was not built. */
export function posix (): Posix {
  if (loaded !== undefined) return loaded
  const addon = storeAddon()
  if (addon === null) throw new AddonMissingError('posix calls')
  loaded = addon as unknown as Posix
  return loaded
}

let gearLoaded = false

/** Loads the chunker's gear table into the addon once (cdcInit; the same for every thread). */
export function ensureGear (): void {
  if (gearLoaded) return
  posix().cdcInit(GEAR)
  gearLoaded = true
}

/** Linux dev_t encoding (glibc gnu_dev_major/minor) of an lstat rdev. */
export function devMajor (rdev: number | bigint): number {
  const d = BigInt(rdev)
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n))
}

export function devMinor (rdev: number | bigint): number {
  const d = BigInt(rdev)
  return Number((d & 0xffn) | ((d >> 12n) & 0xffffff00n))
}
