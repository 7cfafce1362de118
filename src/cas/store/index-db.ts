import type { AbstractSublevel } from 'abstract-level'
import { Level } from 'level'
import { StoreCorruptError, StoreLockedError } from '../errors.js'

type Bytes = Uint8Array
type Db = Level<string, string>
type Sub<K, V> = AbstractSublevel<Db, string | Buffer | Uint8Array, K, V>

/** State of one pack in the index: `tail` bytes are covered by index entries; dead packs await deletion. */
export interface PackState { tail: number, dead?: boolean }
/** Totals of the live index (maintained in the same batches as the entries). */
export interface Counters { chunks: number, rawBytes: number, storedBytes: number }

/** A batch operation on one of the index sublevels. */
export type IndexOp =
  | { type: 'put', sublevel: 'chunks', key: Bytes, value: Bytes }
  | { type: 'del', sublevel: 'chunks', key: Bytes }
  | { type: 'put', sublevel: 'pins', key: string, value: Bytes }
  | { type: 'del', sublevel: 'pins', key: string }
  | { type: 'put', sublevel: 'meta', key: string, value: unknown }
  | { type: 'del', sublevel: 'meta', key: string }

const STORE_VERSION = 1
const LOCK_POLL_MS = 100

function isLocked (err: unknown): boolean {
  for (let e = err as { code?: string, cause?: unknown } | undefined; e !== undefined && e !== null; e = e.cause as typeof e) {
    if (e.code === 'LEVEL_LOCKED') return true
  }
  return false
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

  private constructor (db: Db) {
    this.#db = db
    this.chunks = db.sublevel<Bytes, Bytes>('c', { keyEncoding: 'view', valueEncoding: 'view' })
    this.pins = db.sublevel<string, Bytes>('p', { keyEncoding: 'utf8', valueEncoding: 'view' })
    this.meta = db.sublevel<string, unknown>('m', { keyEncoding: 'utf8', valueEncoding: 'json' })
  }

  /** Opens (creating) the index at `location`. Rejects CAS_STORE_LOCKED if held past `waitMs`. */
  static async open (location: string, storeDir: string, waitMs = 0): Promise<IndexDb> {
    const deadline = Date.now() + waitMs
    for (;;) {
      const db = new Level<string, string>(location) // classic-level (LevelDB) on Node
      try {
        await db.open()
      } catch (err) {
        if (!isLocked(err)) throw err
        if (Date.now() >= deadline) throw new StoreLockedError(storeDir, { cause: err })
        await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS))
        continue
      }
      const index = new IndexDb(db)
      const version = await index.meta.get('version') as number | undefined
      if (version === undefined) await index.meta.put('version', STORE_VERSION)
      else if (version !== STORE_VERSION) {
        await db.close()
        throw new StoreCorruptError(`store format version ${String(version)} is not supported (this build reads version ${STORE_VERSION})`)
      }
      return index
    }
  }

  /** Applies `ops` atomically; `sync` makes the batch durable before resolving. */
  async batch (ops: IndexOp[], sync: boolean): Promise<void> {
    if (ops.length === 0 && !sync) return
    const levels = { chunks: this.chunks, pins: this.pins, meta: this.meta }
    const mapped = ops.map((op) => ({ ...op, sublevel: levels[op.sublevel] }))
    await this.#db.batch(mapped as never, { sync })
  }

  async close (): Promise<void> { await this.#db.close() }
}
