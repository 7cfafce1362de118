import { ClassicLevel } from 'classic-level'

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
}

/** A Kv in a LevelDB directory (created if absent). */
export async function openLevelKv (dir: string): Promise<Kv> {
  const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  return {
    async get (key) { return await db.get(key) },
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
  const cmp = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))
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
 * atomic batch. Not isolated from other writers: callers serialise mutations.
 */
export class KvTxn implements KvReader {
  readonly #kv: Kv
  readonly #pending = new Map<string, Uint8Array | undefined>()
  constructor (kv: Kv) { this.#kv = kv }

  get size (): number { return this.#pending.size }

  async get (key: string): Promise<Uint8Array | undefined> {
    return this.#pending.has(key) ? this.#pending.get(key) : await this.#kv.get(key)
  }

  put (key: string, value: Uint8Array): void { this.#pending.set(key, value) }
  del (key: string): void { this.#pending.set(key, undefined) }

  async * range (gte: string, lt: string, limit = Infinity): AsyncIterable<[string, Uint8Array]> {
    const merged = new Map<string, Uint8Array>()
    for await (const [k, v] of this.#kv.range(gte, lt)) merged.set(k, v)
    const inRange = (k: string): boolean => Buffer.compare(Buffer.from(k), Buffer.from(gte)) >= 0 && Buffer.compare(Buffer.from(k), Buffer.from(lt)) < 0
    for (const [k, v] of this.#pending) {
      if (!inRange(k)) continue
      if (v === undefined) merged.delete(k); else merged.set(k, v)
    }
    const keys = [...merged.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    let n = 0
    for (const k of keys) { if (n++ >= limit) return; yield [k, merged.get(k) as Uint8Array] }
  }

  /** Applies every pending write atomically. */
  async commit (sync = false): Promise<void> {
    await this.#kv.batch([...this.#pending].map(([key, value]) => ({ key, value })), sync)
    this.#pending.clear()
  }
}

const MAX_CACHED_VALUE_BYTES = 4096

/**
 * A Kv with a read cache of `get` (absent keys included), kept exact by dropping every key a
 * batch writes; so every writer must go through the returned object. Large values (chunks)
 * are not cached.
 */
export function cacheKv (kv: Kv, maxEntries = 65_536): Kv {
  const cache = new Map<string, Uint8Array | undefined>()
  let generation = 0
  return {
    async get (key) {
      if (cache.has(key)) {
        const v = cache.get(key)
        cache.delete(key); cache.set(key, v)
        return v
      }
      const gen = generation
      const v = await kv.get(key)
      // A batch that ran while we read may have changed the key: cache only if none did.
      if (gen === generation && (v === undefined || v.length <= MAX_CACHED_VALUE_BYTES)) {
        cache.set(key, v)
        if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string)
      }
      return v
    },
    range: (gte, lt, limit) => kv.range(gte, lt, limit),
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
