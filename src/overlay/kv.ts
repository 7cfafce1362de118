import { ClassicLevel } from 'classic-level'
import { compareNames as compareKeys } from './format.js'

/** One write of an atomic batch: `value` undefined deletes `key`. */
export interface KvOp { readonly key: string, readonly value?: Uint8Array }

/**
 * The ordered key-value store under the writable layer and the inode table: string keys in
 * bytewise order, byte values, atomic batches. Level for durable state, memory for views that
 * live as long as one process (CLI reads).
 */
export interface Kv {
  get (key: string): Promise<Uint8Array | undefined>
  /** Entries with gte <= key < lt in key order. */
  range (gte: string, lt: string, limit?: number): AsyncIterable<[string, Uint8Array]>
  /** All or nothing, also across a crash. `sync` waits for the disk (fsync of the log). */
  batch (ops: readonly KvOp[], sync?: boolean): Promise<void>
  close (): Promise<void>
  /** A name stable across restarts (the directory of a level Kv). */
  readonly id?: string
  /** Hint: `keys` will be read soon (a cache loads them in one round trip). */
  prefetch?: (keys: readonly string[]) => Promise<void>
  /** Values of `keys`, in order (one round trip where the store supports it). */
  getMany?: (keys: readonly string[]) => Promise<Array<Uint8Array | undefined>>
}

/** A Kv in a LevelDB directory (created if absent). */
export async function openLevelKv (dir: string): Promise<Kv> {
  const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  return {
    id: dir,
    async get (key) { return await db.get(key) },
    async getMany (keys) { return await db.getMany([...keys]) },
    async * range (gte, lt, limit) {
      for await (const [k, v] of db.iterator({ gte, lt, limit: limit ?? -1 })) yield [k, v]
    },
    async batch (ops, sync = false) {
      if (ops.length === 0) return
      await db.batch(ops.map((o) => o.value === undefined
        ? { type: 'del' as const, key: o.key }
        : { type: 'put' as const, key: o.key, value: o.value }), { sync })
    },
    async close () { await db.close() }
  }
}

/** A Kv in memory (sorted on demand); nothing survives the process. */
export function createMemoryKv (): Kv {
  const map = new Map<string, Uint8Array>()
  const cmp = compareKeys
  return {
    async get (key) { return map.get(key) },
    async * range (gte, lt, limit = Infinity) {
      const keys = [...map.keys()].filter((k) => cmp(k, gte) >= 0 && cmp(k, lt) < 0).sort(cmp)
      for (const k of keys.slice(0, limit)) {
        const v = map.get(k)
        if (v !== undefined) yield [k, v]
      }
    },
    async batch (ops) { for (const o of ops) { if (o.value === undefined) map.delete(o.key); else map.set(o.key, o.value) } },
    async close () { map.clear() }
  }
}

const enc = new TextEncoder()
const dec = new TextDecoder()

/** JSON to bytes, bigints as `{ "$n": "123" }`. */
export function encodeJson (value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value, (_k, v: unknown) => typeof v === 'bigint' ? { $n: v.toString() } : v))
}

/** The inverse of encodeJson. */
export function decodeJson<T> (bytes: Uint8Array): T {
  return JSON.parse(dec.decode(bytes), (_k, v: unknown) =>
    (typeof v === 'object' && v !== null && typeof (v as { $n?: unknown }).$n === 'string') ? BigInt((v as { $n: string }).$n) : v) as T
}

/** The reading half of a Kv. */
export type KvReader = Pick<Kv, 'get' | 'range'>

/**
 * A transaction over a Kv: reads see its own pending writes, `commit` applies them as one
 * atomic batch. Not isolated from other writers: callers serialise mutations. New pending
 * keys are sorted and merged into the sorted ones at the next range, so interleaved puts and
 * ranges cost O(n) per range, not O(n) per put.
 */
export class KvTxn implements KvReader {
  readonly #kv: Kv
  readonly #pending = new Map<string, Uint8Array | undefined>()
  #sorted: string[] = []
  #fresh: string[] = []
  constructor (kv: Kv) { this.#kv = kv }

  get size (): number { return this.#pending.size }

  async get (key: string): Promise<Uint8Array | undefined> {
    return this.#pending.has(key) ? this.#pending.get(key) : await this.#kv.get(key)
  }

  #lowerBound (key: string): number {
    let lo = 0
    let hi = this.#sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (compareKeys(this.#sorted[mid], key) < 0) lo = mid + 1; else hi = mid
    }
    return lo
  }

  #set (key: string, value: Uint8Array | undefined): void {
    if (!this.#pending.has(key)) this.#fresh.push(key)
    this.#pending.set(key, value)
  }

  /** Passes a read hint for the keys this transaction does not hold to the Kv. */
  async prefetch (keys: readonly string[]): Promise<void> {
    await this.#kv.prefetch?.(keys.filter((k) => !this.#pending.has(k)))
  }

  put (key: string, value: Uint8Array): void { this.#set(key, value) }
  del (key: string): void { this.#set(key, undefined) }

  #merge (): void {
    if (this.#fresh.length === 0) return
    const fresh = this.#fresh.sort(compareKeys)
    const old = this.#sorted
    const out: string[] = new Array(old.length + fresh.length)
    let i = 0
    let j = 0
    let k = 0
    while (i < old.length || j < fresh.length) {
      out[k++] = j >= fresh.length || (i < old.length && compareKeys(old[i], fresh[j]) < 0) ? old[i++] : fresh[j++]
    }
    this.#sorted = out
    this.#fresh = []
  }

  async * range (gte: string, lt: string, limit = Infinity): AsyncIterable<[string, Uint8Array]> {
    this.#merge()
    const mine: string[] = []
    for (let i = this.#lowerBound(gte); i < this.#sorted.length && compareKeys(this.#sorted[i], lt) < 0; i++) mine.push(this.#sorted[i])
    const theirs: Array<[string, Uint8Array]> = []
    for await (const kv of this.#kv.range(gte, lt)) theirs.push(kv)
    let a = 0
    let b = 0
    let n = 0
    while ((a < mine.length || b < theirs.length) && n < limit) {
      const c = a >= mine.length ? 1 : b >= theirs.length ? -1 : compareKeys(mine[a], theirs[b][0])
      if (c <= 0) {
        const key = mine[a++]
        if (c === 0) b++
        const v = this.#pending.get(key)
        if (v !== undefined) { n++; yield [key, v] }
      } else { n++; yield theirs[b++] }
    }
  }

  /** Applies every pending write atomically. */
  async commit (sync = false): Promise<void> {
    await this.#kv.batch([...this.#pending].map(([key, value]) => ({ key, value })), sync)
    this.#pending.clear()
    this.#sorted = []
    this.#fresh = []
  }
}

const MAX_CACHED_VALUE_BYTES = 1024

/**
 * A Kv with a read cache of `get` (absent keys included), kept exact by dropping every key a
 * batch writes; so every writer must go through the returned object. Chunks (`k:`) and
 * values over 1 KiB are not cached, so it holds at most ~64 MiB.
 */
export function cacheKv (kv: Kv, maxEntries = 65_536): Kv {
  const cache = new Map<string, Uint8Array | undefined>()
  let generation = 0
  return {
    id: kv.id,
    async get (key) {
      if (cache.has(key)) {
        const v = cache.get(key)
        cache.delete(key); cache.set(key, v)
        return v
      }
      const gen = generation
      const v = await kv.get(key)
      // A batch that ran while we read may have changed the key: cache only if none did.
      if (gen === generation && !key.startsWith('k:') && (v === undefined || v.length <= MAX_CACHED_VALUE_BYTES)) {
        cache.set(key, v)
        if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string)
      }
      return v
    },
    range: (gte, lt, limit) => kv.range(gte, lt, limit),
    async prefetch (keys) {
      const missing = keys.filter((k) => !cache.has(k) && !k.startsWith('k:'))
      if (missing.length === 0 || kv.getMany === undefined) return
      const gen = generation
      const values = await kv.getMany(missing)
      if (gen !== generation) return
      missing.forEach((k, i) => {
        const v = values[i]
        if (v === undefined || v.length <= MAX_CACHED_VALUE_BYTES) cache.set(k, v)
      })
      while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string)
    },
    async batch (ops, sync) {
      generation++
      for (const o of ops) cache.delete(o.key)
      try { await kv.batch(ops, sync) } finally {
        generation++
        for (const o of ops) cache.delete(o.key)
      }
    },
    async close () { cache.clear(); await kv.close() }
  }
}
