import { blake3Digest } from '../cas/hasher.js'
import type { FilePart } from '../overlay/interface.js'
import { ByteLru } from '../util/byte-lru.js'

/**
 * Deltas a XenoStore has computed, by what they are made of (the chunks of the new version,
 * those of the reference, the level), least recently used dropped beyond `maxBytes`. When a
 * fleet updates from one template to the next, every server asks for the same deltas: the
 * first request computes them (zstd with a reference at level 6 or more, most of an update's
 * serving CPU), the others are answered from here. `null` records that a delta did not pay
 * (the chunks go plain), so that is not computed again either.
 */
export class DeltaCache {
  readonly #entries: ByteLru<Uint8Array | null>
  hits = 0
  misses = 0

  constructor (maxBytes = 64 * 1024 * 1024) { this.#entries = new ByteLru(maxBytes, sizeOf) }

  /** The key of a delta of `targets` against `refs` at `level`: a BLAKE3 digest of their CIDs (hex). */
  static keyOf (targets: readonly FilePart[], refs: readonly FilePart[], level: number): string {
    const cids = [...targets, ...refs].map((p) => p.cid.bytes)
    const all = new Uint8Array(cids.reduce((n, c) => n + c.length + 1, 4))
    new DataView(all.buffer).setUint32(0, level)
    let at = 4
    // A separator between the lists, so the same CIDs split differently give another key.
    for (let i = 0; i < cids.length; i++) {
      if (i === targets.length) all[at++] = 0xff
      all.set(cids[i], at); at += cids[i].length
    }
    return Buffer.from(blake3Digest(all.subarray(0, at))).toString('hex')
  }

  /** The delta (null: none pays) or undefined when not cached. */
  get (key: string): Uint8Array | null | undefined {
    const v = this.#entries.get(key)
    if (v === undefined) this.misses++; else this.hits++
    return v
  }

  set (key: string, delta: Uint8Array | null): void { this.#entries.set(key, delta) }

  /** Bytes held (deltas plus a fixed cost per entry). */
  get bytes (): number { return this.#entries.bytes }
}

function sizeOf (delta: Uint8Array | null): number { return (delta?.length ?? 0) + 128 }
