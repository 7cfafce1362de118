/**
 * The last few decompressed frames, so that reading neighbouring members one by one (an
 * export, an NFS read of a file) decompresses each frame once, not once per member.
 * Bounded by entries and bytes. Keyed by pack and record offset: within one process a
 * record's place never holds other bytes (pack numbers only grow; recovery truncates before
 * the store opens). Holders treat the bytes as read-only; every member read from here is
 * still verified against its CID.
 */
export class FrameCache {
  readonly #map = new Map<string, Uint8Array>()
  readonly #loads = new Map<string, Promise<Uint8Array | undefined>>()
  readonly #maxEntries: number
  readonly #maxBytes: number
  #bytes = 0

  constructor (maxEntries = 8, maxBytes = 8 * 1024 * 1024) {
    this.#maxEntries = maxEntries; this.#maxBytes = maxBytes
  }

  get (pack: number, offset: number): Uint8Array | undefined {
    const key = `${pack}:${offset}`
    const hit = this.#map.get(key)
    if (hit !== undefined) { this.#map.delete(key); this.#map.set(key, hit) } // LRU: move to the back
    return hit
  }

  set (pack: number, offset: number, bytes: Uint8Array): void {
    const key = `${pack}:${offset}`
    this.delete(pack, offset)
    this.#map.set(key, bytes)
    this.#bytes += bytes.length
    for (const [k, v] of this.#map) {
      if (this.#map.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break
      this.#map.delete(k); this.#bytes -= v.length
    }
  }

  delete (pack: number, offset: number): void {
    const key = `${pack}:${offset}`
    const old = this.#map.get(key)
    if (old !== undefined) { this.#map.delete(key); this.#bytes -= old.length }
  }

  clear (): void { this.#map.clear(); this.#bytes = 0 }

  /** The load of this frame in progress, if any (resolves its bytes, or undefined if it failed). */
  loading (pack: number, offset: number): Promise<Uint8Array | undefined> | undefined {
    return this.#loads.get(`${pack}:${offset}`)
  }

  /**
   * Marks a load of this frame as in progress; call the returned function once with its bytes
   * (or undefined) when done. Only the first of concurrent loads registers.
   */
  startLoad (pack: number, offset: number): (raw: Uint8Array | undefined) => void {
    const key = `${pack}:${offset}`
    if (this.#loads.has(key)) return () => {}
    let resolve: (raw: Uint8Array | undefined) => void = () => {}
    this.#loads.set(key, new Promise((r) => { resolve = r }))
    return (raw) => { this.#loads.delete(key); resolve(raw) }
  }
}
