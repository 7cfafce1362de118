import type { CID } from 'multiformats/cid'
import { ChunkMissingError } from '../cas/errors.js'
import type { ChunkReader } from '../cas/interface.js'

/**
 * Encoded bytes of tree nodes a DecodedCache keeps by default. A decoded directory entry takes
 * about 10x its encoded size in V8's heap (an object, its name, a CID), so 4 MiB is ~40 MiB
 * of heap however large the directories read (4,096 nodes of up to 1,024 entries each were no
 * bound), while the directories an NFS client walks (t1-apache: ~2 MB) all fit.
 */
export const DEFAULT_CACHE_BYTES = 4 * 1024 * 1024

/**
 * Encoded bytes of nodes to keep decoded for a walk that reads each node once (an export, a
 * listing): those on the current path, little more. A decoded entry is ~1 KB of V8's heap,
 * so the default would keep ~40 MiB of a large tree that is never read again.
 */
export const ONE_PASS_CACHE_BYTES = 256 * 1024

/**
 * A bounded LRU of decoded tree nodes, keyed by CID string. Nodes are immutable, so entries
 * never go stale. Bounded by count and by the nodes' encoded size: a node may hold thousands
 * of entries, so a bound on count alone would not keep memory flat whatever the tree size.
 */
export class DecodedCache<T> {
  readonly #map = new Map<string, { value: T, weight: number }>()
  readonly #limit: number
  readonly #maxWeight: number
  #weight = 0
  constructor (limit = 4096, maxWeight = DEFAULT_CACHE_BYTES) { this.#limit = limit; this.#maxWeight = maxWeight }

  get (key: string): T | undefined {
    const v = this.#map.get(key)
    if (v !== undefined) { this.#map.delete(key); this.#map.set(key, v) }
    return v?.value
  }

  /** Keeps `value` (of `weight`, its encoded bytes), dropping the least recently used past either bound. */
  set (key: string, value: T, weight = 0): void {
    const old = this.#map.get(key)
    if (old !== undefined) { this.#weight -= old.weight; this.#map.delete(key) }
    this.#map.set(key, { value, weight })
    this.#weight += weight
    while (this.#map.size > 1 && (this.#map.size > this.#limit || this.#weight > this.#maxWeight)) {
      const [k, v] = this.#map.entries().next().value as [string, { weight: number }]
      this.#map.delete(k)
      this.#weight -= v.weight
    }
  }
}

/** Reads a block the tree references: absence is a fault (ChunkMissingError). */
export async function getRequired (reader: ChunkReader, cid: CID): Promise<Uint8Array> {
  const bytes = await reader.get(cid)
  if (bytes === undefined) throw new ChunkMissingError(cid)
  return bytes
}

/** Loads and decodes a node through `cache`. */
export async function loadNode<T> (reader: ChunkReader, cache: DecodedCache<T>, cid: CID,
  decode: (bytes: Uint8Array) => T): Promise<T> {
  const key = cid.toString()
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  const bytes = await getRequired(reader, cid)
  const node = decode(bytes)
  cache.set(key, node, bytes.length)
  return node
}
