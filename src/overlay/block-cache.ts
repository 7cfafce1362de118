import type { CID } from 'multiformats/cid'
import { ChunkMissingError } from '../cas/errors.js'
import type { ChunkReader } from '../cas/interface.js'

/**
 * A bounded LRU of decoded tree nodes, keyed by CID string. Nodes are immutable, so entries
 * never go stale; the bound keeps memory flat whatever the tree size.
 */
export class DecodedCache<T> {
  readonly #map = new Map<string, T>()
  readonly #limit: number
  constructor (limit = 4096) { this.#limit = limit }

  get (key: string): T | undefined {
    const v = this.#map.get(key)
    if (v !== undefined) { this.#map.delete(key); this.#map.set(key, v) }
    return v
  }

  set (key: string, value: T): void {
    this.#map.set(key, value)
    if (this.#map.size > this.#limit) this.#map.delete(this.#map.keys().next().value as string)
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
  const node = decode(await getRequired(reader, cid))
  cache.set(key, node)
  return node
}
