/** Encoded listings kept, in bytes, by default (each up to a reply's size). */
export const DEFAULT_LISTING_CACHE_BYTES_16MIB = 16_777_216

/**
 * Encoded READDIRPLUS results (cookie verifier, entries, eof) of directories that have not
 * changed since, so a client listing a directory again gets the same bytes without the view
 * being walked and every entry encoded again (ganesha's MDCACHE keeps directory entries for the
 * same reason). An entry is valid only for the Filesystem `version` it was made at; memory is
 * bounded in bytes, oldest first.
 */
export class ListingCache {
  readonly #map = new Map<string, { version: number, bytes: Uint8Array }>()
  readonly #max: number
  #bytes = 0

  constructor (maxBytes = DEFAULT_LISTING_CACHE_BYTES_16MIB) { this.#max = maxBytes }

  /** The listing made under `key` at `version`, or undefined. */
  get (key: string, version: number): Uint8Array | undefined {
    const hit = this.#map.get(key)
    if (hit === undefined) return undefined
    if (hit.version === version) return hit.bytes
    this.#drop(key, hit.bytes)
    return undefined
  }

  /** Keeps `bytes` (owned by the cache from now on) as the listing of `key` at `version`. */
  set (key: string, version: number, bytes: Uint8Array): void {
    const old = this.#map.get(key)
    if (old !== undefined) this.#drop(key, old.bytes)
    if (bytes.length > this.#max) return
    this.#map.set(key, { version, bytes })
    this.#bytes += bytes.length
    while (this.#bytes > this.#max) {
      const [k, v] = this.#map.entries().next().value as [string, { bytes: Uint8Array }]
      this.#drop(k, v.bytes)
    }
  }

  #drop (key: string, bytes: Uint8Array): void {
    this.#map.delete(key)
    this.#bytes -= bytes.length
  }
}
