/**
 * A map that keeps its most recently used entries within a byte bound (`sizeOf` says what each
 * costs): a read moves its entry to the back, an insert drops entries from the front until the
 * bound holds again. An entry larger than the whole bound is not kept.
 */
export class ByteLru<V> {
  readonly #map = new Map<string, V>()
  readonly #max: number
  readonly #sizeOf: (value: V) => number
  #bytes = 0

  constructor (maxBytes: number, sizeOf: (value: V) => number) {
    this.#max = maxBytes
    this.#sizeOf = sizeOf
  }

  /** The value of `key` (now the most recently used), or undefined. */
  get (key: string): V | undefined {
    if (!this.#map.has(key)) return undefined
    const value = this.#map.get(key) as V
    this.#map.delete(key)
    this.#map.set(key, value)
    return value
  }

  set (key: string, value: V): void {
    if (this.#map.has(key)) { this.#bytes -= this.#sizeOf(this.#map.get(key) as V); this.#map.delete(key) }
    const size = this.#sizeOf(value)
    if (size > this.#max) return
    this.#map.set(key, value)
    this.#bytes += size
    for (const [k, v] of this.#map) {
      if (this.#bytes <= this.#max) break
      this.#map.delete(k)
      this.#bytes -= this.#sizeOf(v)
    }
  }

  /** Bytes held, as `sizeOf` counts them. */
  get bytes (): number { return this.#bytes }
}
