/** Deterministic pseudo-random bytes (xorshift32), for reproducible test inputs. */
export function seededBytes (seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = (seed >>> 0) || 0x9e3779b9
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

/** A seeded PRNG returning floats in [0, 1). */
export function seededRandom (seed: number): () => number {
  let x = (seed >>> 0) || 0x9e3779b9
  return () => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x / 0x1_0000_0000
  }
}

/** Streams `bytes` in pieces of `pieceSize` (to exercise chunk boundaries across reads). */
export async function * inPieces (bytes: Uint8Array, pieceSize: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += pieceSize) yield bytes.subarray(i, Math.min(i + pieceSize, bytes.length))
}
