import type { CID } from 'multiformats/cid'

/** Map key of a CID: its binary form as a latin1 string (compact, exact). */
export function keyOf (cid: CID): string { return keyOfBytes(cid.bytes) }

/**
 * Buffer's own latin1 decoder, called on any Uint8Array: Buffer.from(buffer, offset, length)
 * .toString('latin1') made a Buffer object and went through toString's encoding dispatch for
 * every key, ~1 µs of a 36-byte CID's ~1.2 µs with TurboFan off as during an import (0.25 µs
 * now); an import makes ~3 keys per chunk stored.
 */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice

/** Map key of binary CID bytes (same as keyOf); the bytes are decoded in place (no copy). */
export function keyOfBytes (bytes: Uint8Array): string { return latin1Slice.call(bytes, 0, bytes.length) }

/** A write in flight: everything stored or found present under it is safe from GC until released. */
export interface WriteLease extends Disposable {
  /** Ends the lease (idempotent). Pin the root first: after release, only pins protect. */
  release (): void
}

/**
 * What keeps GC away from writes in flight, inside the one process that holds the store
 * (the LevelDB lock keeps other processes out). While any lease or GC run is active, every
 * block put, or found present by put/has/missing, is recorded in `touched`; GC never sweeps
 * a touched block. GC marks the blocks it is about to drop as `doomed` and bumps `epoch`
 * around each index switch, so a lookup that raced a switch looks again.
 */
export class WriteGuard {
  #leases = 0
  #gcRuns = 0
  #touched: Set<string> | undefined
  /** Keys being removed by the index switch in progress: lookups treat them as absent. */
  readonly doomed = new Set<string>()
  /** Changes whenever GC changes where blocks live. */
  epoch = 0
  /** Roots pinned while GC runs: GC marks them before it sweeps. */
  readonly lateRoots: Uint8Array[] = []

  get gcRunning (): boolean { return this.#gcRuns > 0 }

  beginWrite (): WriteLease {
    this.#leases++
    this.#touched ??= new Set()
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      this.#leases--
      this.#maybeForget()
    }
    return { release, [Symbol.dispose]: release }
  }

  /** Records that `key` was written or relied on (no-op when nothing needs to know). */
  touch (key: string): void { this.#touched?.add(key) }

  isTouched (key: string): boolean { return this.#touched?.has(key) === true }

  beginGc (): void {
    this.#gcRuns++
    this.#touched ??= new Set()
  }

  endGc (): void {
    this.#gcRuns--
    if (this.#gcRuns === 0) this.lateRoots.length = 0
    this.#maybeForget()
  }

  #maybeForget (): void {
    if (this.#leases === 0 && this.#gcRuns === 0) this.#touched = undefined
  }
}
