import type { AbstractSublevel } from 'abstract-level'
import { Level } from 'level'
import { StoreClosedError, StoreCorruptError, StoreLockedError } from '../errors.js'
import { keyOfBytes } from './guard.js'

type Bytes = Uint8Array
type Db = Level<string, string>
type Sub<K, V> = AbstractSublevel<Db, string | Buffer | Uint8Array, K, V>

/** State of one pack in the index: `tail` bytes are covered by index entries; dead packs await deletion. */
export interface PackState { tail: number, dead?: boolean }
/** Totals of the live index (maintained in the same batches as the entries). */
export interface Counters {
  chunks: number
  rawBytes: number
  storedBytes: number
  /** Of `chunks`, those stored as frame members (absent in version 1 stores: none). */
  framedChunks?: number
}

/** A batch operation on one of the index sublevels. */
export type IndexOp =
  | { type: 'put', sublevel: 'chunks', key: Bytes, value: Bytes }
  | { type: 'del', sublevel: 'chunks', key: Bytes }
  | { type: 'put', sublevel: 'pins', key: string, value: Bytes }
  | { type: 'del', sublevel: 'pins', key: string }
  | { type: 'put', sublevel: 'meta', key: string, value: unknown }
  | { type: 'del', sublevel: 'meta', key: string }

/**
 * Version 2 added frame records and member entries (pack-format.ts). A version 1 store is
 * a valid version 2 store, so opening one upgrades its version number; a build that only
 * reads version 1 then refuses it instead of misreading frames.
 */
const STORE_VERSION = 2
const READABLE_VERSIONS = [1, 2]
const LOCK_POLL_MS = 100
/** Chunk keys an index that opened empty remembers (see IndexDb.#written) before it stops. */
const MAX_WRITTEN_KEYS = 1 << 20

function hasLevelCode (err: unknown, code: string): boolean {
  for (let e = err as { code?: string, cause?: unknown } | undefined; e !== undefined && e !== null; e = e.cause as typeof e) {
    if (e.code === code) return true
  }
  return false
}

/** LevelDB's RepairDB (classic-level's static repair; `level` is classic-level on Node). */
async function repairLevel (location: string): Promise<void> {
  await (Level as unknown as { repair: (location: string) => Promise<void> }).repair(location)
}

/**
 * The store's LevelDB index (classic-level) with three sublevels: `chunks` (binary CID →
 * encoded IndexEntry), `pins` (name → binary root CID) and `meta` (JSON: version, pack
 * states, counters). LevelDB's LOCK file (an fcntl lock the kernel drops when the process
 * dies, even on kill -9) is the store's single-writer lock.
 */
export class IndexDb {
  readonly #db: Db
  readonly chunks: Sub<Bytes, Bytes>
  readonly pins: Sub<string, Bytes>
  readonly meta: Sub<string, unknown>
  #closed = false
  /**
   * When the `chunks` sublevel was empty at open: the key (keyOfBytes) of every chunk entry
   * put since, so a lookup of any other key answers "absent" without asking LevelDB (a first
   * import into a new store looks up every chunk it stores). Entries only appear through
   * batch() and this process holds LevelDB's lock, so a key not in the set has no entry.
   * Dropped (lookups go to LevelDB) past MAX_WRITTEN_KEYS.
   */
  #written: Set<string> | undefined

  private constructor (db: Db) {
    this.#db = db
    this.chunks = db.sublevel<Bytes, Bytes>('c', { keyEncoding: 'view', valueEncoding: 'view' })
    this.pins = db.sublevel<string, Bytes>('p', { keyEncoding: 'utf8', valueEncoding: 'view' })
    this.meta = db.sublevel<string, unknown>('m', { keyEncoding: 'utf8', valueEncoding: 'json' })
  }

  /** True when opening had to run LevelDB's repair on a corrupt index. */
  repaired = false

  /**
   * Opens (creating) the index at `location`. Rejects CAS_STORE_LOCKED if held past
   * `waitMs`. A corrupt index (LEVEL_CORRUPTION) is repaired once with LevelDB's RepairDB,
   * which keeps every entry it can read; what it loses, opening re-indexes from the packs.
   */
  static async open (location: string, storeDir: string, waitMs = 0): Promise<IndexDb> {
    const deadline = Date.now() + waitMs
    let repaired = false
    for (;;) {
      const db = new Level<string, string>(location) // classic-level (LevelDB) on Node
      try {
        await db.open()
      } catch (err) {
        if (hasLevelCode(err, 'LEVEL_CORRUPTION') && !repaired) {
          await repairLevel(location)
          repaired = true
          continue
        }
        if (!hasLevelCode(err, 'LEVEL_LOCKED')) throw new StoreCorruptError(`the store index at ${location} cannot be opened`, { cause: err })
        if (Date.now() >= deadline) throw new StoreLockedError(storeDir, { cause: err })
        await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS))
        continue
      }
      const index = new IndexDb(db)
      index.repaired = repaired
      if ((await index.chunks.keys({ limit: 1 }).all()).length === 0) index.#written = new Set()
      const version = await index.meta.get('version') as number | undefined
      if (version === undefined || (version !== STORE_VERSION && READABLE_VERSIONS.includes(version))) await index.meta.put('version', STORE_VERSION)
      else if (version !== STORE_VERSION) {
        await db.close()
        throw new StoreCorruptError(`store format version ${String(version)} is not supported (this build reads version ${STORE_VERSION})`)
      }
      return index
    }
  }

  /**
   * Applies `ops` atomically; `sync` makes the batch durable before resolving. The ops are
   * encoded here (sublevel prefix via the public prefixKey, JSON for meta) and handed to
   * classic-level's _batch, the implementation method behind abstract-level's batch(): its
   * per-operation cloning, validation and hooks cost about half of the store's CPU per
   * chunk (bench: 48 -> 27 µs per 32 KiB chunk for putPrepared + flush).
   */
  async batch (ops: IndexOp[], sync: boolean): Promise<void> {
    if (ops.length === 0 && !sync) return
    if (this.#closed) throw new StoreClosedError()
    const raw = ops.map((op) => this.#encode(op))
    const written = this.#written
    if (written !== undefined) {
      for (const op of ops) if (op.sublevel === 'chunks' && op.type === 'put') written.add(keyOfBytes(op.key))
      if (written.size > MAX_WRITTEN_KEYS) this.#written = undefined
    }
    await (this.#db as unknown as RawBatch)._batch(raw, { sync })
  }

  /**
   * The `chunks` entry of binary CID `key`, or undefined: chunks.getSync without the two
   * layers of abstract-level wrappers (sublevel, then root: key checks, encodings, prefixing
   * twice), which cost ~4x LevelDB's own lookup; it is called once per chunk an import stores.
   * Same prefixed key (the public prefixKey) and same bytes as chunks.getSync. `keyText`:
   * keyOfBytes(key), when the caller has it.
   */
  getChunkSync (key: Bytes, keyText?: string): Bytes | undefined {
    if (this.#closed) throw new StoreClosedError()
    if (this.#written !== undefined && !this.#written.has(keyText ?? keyOfBytes(key))) return undefined
    return (this.#db as unknown as RawGet)._getSync(this.chunks.prefixKey(key, 'view'), CHUNK_GET_OPTIONS)
  }

  #encode (op: IndexOp): RawOp {
    if (op.sublevel === 'chunks') {
      const key = this.chunks.prefixKey(op.key, 'view')
      return op.type === 'put' ? { type: 'put', key, value: op.value } : { type: 'del', key }
    }
    if (op.sublevel === 'pins') {
      const key = this.pins.prefixKey(op.key, 'utf8')
      return op.type === 'put' ? { type: 'put', key, value: op.value } : { type: 'del', key }
    }
    const key = this.meta.prefixKey(op.key, 'utf8')
    return op.type === 'put' ? { type: 'put', key, value: JSON.stringify(op.value) } : { type: 'del', key }
  }

  async close (): Promise<void> {
    this.#closed = true
    await this.#db.close()
  }
}

/** An encoded operation as classic-level's native batch reads it (type, key, value). */
type RawOp = { type: 'put', key: Uint8Array | string, value: Uint8Array | string } | { type: 'del', key: Uint8Array | string }
interface RawBatch { _batch (ops: RawOp[], options: { sync: boolean }): Promise<void> }
/** classic-level's implementation method behind getSync (binary key in, Buffer or undefined out). */
interface RawGet { _getSync (key: Uint8Array, options: typeof CHUNK_GET_OPTIONS): Uint8Array | undefined }
const CHUNK_GET_OPTIONS = Object.freeze({ keyEncoding: 'view', valueEncoding: 'view', fillCache: true })
