import type { Kv } from '../overlay/index.js'

/** Entries a cached Kv remembers (values and absences). */
export const DEFAULT_KV_CACHE_ENTRIES = 131_072
/**
 * Larger values are never kept: the cache is for metadata (inodes, directory entries, spans);
 * a writable layer also keeps file content in its Kv, which the chunk cache's bound governs.
 */
export const MAX_CACHED_VALUE_BYTES = 1024

const ABSENT = new Uint8Array(0)

/**
 * A read cache over a Kv (the overlay's inode table and writable layer live in one): `get`
 * answers from memory after the first read, `batch` writes through and updates the cache
 * once the write is durable. Every write of the Kv must go through the returned object. A get
 * that raced with a batch is not remembered (the epoch moved), so the cache never holds a value
 * older than the last completed batch. Absent keys are cached too (the common lookup miss).
 * Memory is bounded by `maxEntries` × MAX_CACHED_VALUE_BYTES.
 */
export function cachedKv (kv: Kv, maxEntries = DEFAULT_KV_CACHE_ENTRIES): Kv & { readonly cachedEntries: number } {
  const cache = new Map<string, Uint8Array>()
  let epoch = 0
  const keep = (key: string, value: Uint8Array): void => {
    cache.delete(key)
    if (value.length > MAX_CACHED_VALUE_BYTES) return
    cache.set(key, value)
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string)
  }
  const cached: Kv = {
    async get (key) {
      const hit = cache.get(key)
      if (hit !== undefined) return hit === ABSENT ? undefined : hit
      const at = epoch
      const value = await kv.get(key)
      if (at === epoch) keep(key, value ?? ABSENT)
      return value
    },
    range: (gte, lt, limit) => kv.range(gte, lt, limit),
    async batch (ops, sync) {
      epoch++
      for (const o of ops) cache.delete(o.key)
      try {
        await kv.batch(ops, sync)
      } finally {
        epoch++
      }
      for (const o of ops) keep(o.key, o.value ?? ABSENT)
    },
    async close () { cache.clear(); await kv.close() }
  }
  if (kv.id !== undefined) Object.defineProperty(cached, 'id', { value: kv.id, enumerable: true })
  // Values and absences remembered now (for memory stats).
  Object.defineProperty(cached, 'cachedEntries', { get: () => cache.size })
  return cached as Kv & { readonly cachedEntries: number }
}
