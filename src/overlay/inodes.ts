import { decodeJson, encodeJson, type Kv, type KvReader, type KvTxn } from './kv.js'

const NEXT_KEY = 'meta:next-ino'
const FIRST_FREE_INO = 2
/** Inos of lower objects kept decoded in memory (write-once keys: never stale). */
const MAX_KNOWN_INOS = 131_072

/**
 * Where the path of an object of another writable layer (a `.mount`'s, Kv id `m`) is kept:
 * that layer's own record of node `n` (its path inside the layer, kept current by renames)
 * below the mount point `at`; `p` is the union path when first seen.
 */
export interface InodeRef { readonly m: string, readonly n: number, readonly at: string, readonly p: string }

/** Key of a lower-layer object in the table: its path, or its hard-link group leader. */
export function lowerInoKey (path: string, hardlink?: string): string {
  return hardlink !== undefined ? `h:/${hardlink}` : `p:${path}`
}

/**
 * Inode numbers of a view, persisted in a Kv: `p:<path>` (or `h:/<leader>` for a hard-link
 * group of a lower layer) → ino for objects only lower layers hold, `i:<ino>` → the last path
 * an ino was handed out at, and one counter. Numbers are never reused. Objects of the
 * writable layer carry their ino in their own node (writable.ts) and use `allocate` only.
 * Not safe for concurrent writers: the owning view serialises calls that write.
 */
export class InodeTable {
  readonly #kv: Kv
  #next: number
  // An object's key is written once (by `assign`, when absent) and never changed or deleted,
  // so an ino read from the Kv stays right: READDIRPLUS and LOOKUP skip the Kv read and decode.
  readonly #known = new Map<string, number>()

  private constructor (kv: Kv, next: number) { this.#kv = kv; this.#next = next }

  /** Loads the counter. */
  static async open (kv: Kv): Promise<InodeTable> {
    const raw = await kv.get(NEXT_KEY)
    return new InodeTable(kv, raw === undefined ? FIRST_FREE_INO : decodeJson<number>(raw))
  }

  /** A fresh ino; the counter goes into `txn` (committed with the object that uses it). */
  allocate (txn: KvTxn): number {
    const ino = this.#next++
    txn.put(NEXT_KEY, encodeJson(this.#next))
    return ino
  }

  /** The ino under `key` if this table holds it in memory (no Kv read), else undefined. */
  cached (key: string): number | undefined { return this.#known.get(key) }

  /** The ino recorded under `key`, or undefined. */
  async peek (key: string, reader: KvReader = this.#kv): Promise<number | undefined> {
    const known = this.#known.get(key)
    if (known !== undefined) return known
    const raw = await reader.get(key)
    if (raw === undefined) return undefined
    const ino = decodeJson<number>(raw)
    // Another reader (a transaction) may see a value not yet committed: not remembered.
    if (reader === this.#kv) this.#remember(key, ino)
    return ino
  }

  #remember (key: string, ino: number): void {
    this.#known.set(key, ino)
    if (this.#known.size > MAX_KNOWN_INOS) this.#known.delete(this.#known.keys().next().value as string)
  }

  /**
   * The inos of lower objects (key, path), allocating and persisting the missing ones in one
   * batch. The caller holds the view's write lock.
   */
  async assign (items: ReadonlyArray<{ key: string, path: string, ref?: InodeRef }>): Promise<number[]> {
    const out: number[] = []
    const ops: Array<{ key: string, value: Uint8Array }> = []
    const fresh = new Map<string, number>()
    for (const item of items) {
      const { key, path } = item
      let ino = fresh.get(key) ?? await this.peek(key)
      if (ino === undefined) {
        ino = this.#next++
        fresh.set(key, ino)
        ops.push({ key, value: encodeJson(ino) }, { key: `i:${ino}`, value: encodeJson(item.ref ?? path) })
      }
      out.push(ino)
    }
    if (ops.length > 0) await this.#kv.batch([...ops, { key: NEXT_KEY, value: encodeJson(this.#next) }])
    for (const [key, ino] of fresh) this.#remember(key, ino)
    return out
  }

  /** Records in `txn` that `ino` now lives at `path` inside the writable layer (rename, copy-up). */
  moved (txn: KvTxn, ino: number, path: string): void {
    txn.put(`i:${ino}`, encodeJson(path))
  }

  /** The last path recorded for `ino` (or where to find it), or undefined. */
  async pathOf (ino: number, reader: KvReader = this.#kv): Promise<string | InodeRef | undefined> {
    const raw = await reader.get(`i:${ino}`)
    return raw === undefined ? undefined : decodeJson<string | InodeRef>(raw)
  }
}
