import type { Chunker } from '../interface.js'

/**
 * Content-defined chunker: FastCDC (Xia et al., USENIX ATC 2016) with normalised chunking
 * (level 2) on a 32-bit gear hash. Not the FastCDC 2020 "two bytes per step" variant: testing
 * only every second byte makes cuts depend on their parity from the chunk start, and then an
 * insertion of an odd number of bytes never re-synchronises (the insertion test catches it).
 *
 * The parameters below are part of the on-disk format: they decide chunk boundaries and so
 * every root CID. They are pinned as CHUNKER_V1 and by the golden vectors in
 * test/cas/chunker-cdc.test.ts. Change them only by adding a new version.
 */
export interface CdcParams {
  readonly minSize: number
  readonly avgSize: number
  readonly maxSize: number
}

export const CHUNKER_V1: CdcParams = Object.freeze({
  minSize: 16_384,
  avgSize: 65_536,
  maxSize: 262_144
})

/**
 * The gear table: 256 pseudo-random 32-bit words from splitmix32 seeded with "xeno" (0x78656e6f).
 * Generated rather than listed so it is short to read; pinned by the golden vectors.
 */
export const GEAR: Uint32Array = (() => {
  const table = new Uint32Array(256)
  let state = 0x78656e6f
  for (let i = 0; i < 256; i++) {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    table[i] = (z ^ (z >>> 16)) >>> 0
  }
  return table
})()

/** The same table as int32, for the hot loop. */
const GEAR_INT32 = new Int32Array(GEAR.buffer.slice(0))

/** A mask of the `bits` highest bits of a 32-bit word: with a left-shifting gear hash these see the most bytes. */
function topBitsMask (bits: number): number {
  return (0xffffffff << (32 - bits)) >>> 0
}

interface Masks { small: number, large: number }

function masksFor (params: CdcParams): Masks {
  const avgBits = Math.round(Math.log2(params.avgSize))
  // Normalised chunking, level 2: a harder mask before the average size, an easier one after.
  return { small: topBitsMask(avgBits + 2), large: topBitsMask(avgBits - 2) }
}

function checkParams (params: CdcParams): void {
  const { minSize, avgSize, maxSize } = params
  if (!(Number.isInteger(minSize) && minSize > 0 && minSize < avgSize && avgSize < maxSize)) {
    throw new RangeError(`chunker sizes must satisfy 0 < min < avg < max, got ${minSize}/${avgSize}/${maxSize}`)
  }
  if (2 ** Math.round(Math.log2(avgSize)) !== avgSize) throw new RangeError('chunker average size must be a power of two')
}

/**
 * Length of the first chunk of `data[start, end)`. Returns -1 when the range is shorter than
 * `maxSize` and no boundary was found, unless `final` (end of stream), which cuts there.
 * Pure; reads `data` only.
 */
export function findBoundary (data: Uint8Array, start: number, end: number, final: boolean,
  params: CdcParams = CHUNKER_V1, masks: Masks = masksFor(params)): number {
  const available = end - start
  const { minSize, avgSize, maxSize } = params
  if (available <= minSize) return final ? available : -1
  const normalEnd = start + Math.min(avgSize, available)
  const hardEnd = start + Math.min(maxSize, available)
  const gear = GEAR_INT32
  const small = masks.small | 0
  const large = masks.large | 0
  let hash = 0
  // Every byte is a candidate cut, so a cut depends only on the bytes before it and chunking
  // re-synchronises after an insertion of any length. The gear table is read as int32: values
  // of a Uint32Array above 2^31 would leave V8's small-integer fast path.
  let i = start + minSize
  for (; i < normalEnd; i++) {
    hash = ((hash << 1) + gear[data[i]]) | 0
    if ((hash & small) === 0) return i + 1 - start
  }
  for (; i < hardEnd; i++) {
    hash = ((hash << 1) + gear[data[i]]) | 0
    if ((hash & large) === 0) return i + 1 - start
  }
  if (available >= maxSize) return maxSize
  return final ? available : -1
}

/**
 * A streaming content-defined chunker over any source of byte arrays. Yields fresh arrays
 * (copies), so callers may keep them.
 */
export function cdcChunker (params: CdcParams = CHUNKER_V1): Chunker {
  checkParams(params)
  const masks = masksFor(params)
  return async function * contentDefinedChunker (source) {
    // Working buffer holds at most maxSize unconsumed bytes plus one incoming piece.
    let buf = new Uint8Array(params.maxSize * 2)
    let start = 0
    let end = 0
    for await (const piece of source) {
      let offset = 0
      while (offset < piece.length) {
        if (end === buf.length) {
          // Compact: move the unconsumed tail to the front (it is always < maxSize here).
          buf.copyWithin(0, start, end)
          end -= start
          start = 0
          if (end === buf.length) {
            const bigger = new Uint8Array(buf.length * 2)
            bigger.set(buf)
            buf = bigger
          }
        }
        const take = Math.min(piece.length - offset, buf.length - end)
        buf.set(piece.subarray(offset, offset + take), end)
        end += take
        offset += take
        for (;;) {
          const len = findBoundary(buf, start, end, false, params, masks)
          if (len < 0) break
          yield buf.slice(start, start + len)
          start += len
        }
      }
    }
    while (start < end) {
      const len = findBoundary(buf, start, end, true, params, masks)
      yield buf.slice(start, start + len)
      start += len
    }
  }
}

/**
 * Boundaries of an in-memory buffer, as chunk lengths. For callers that already hold the
 * bytes (e.g. a worker that read a whole small file); same cuts as the streaming chunker.
 */
export function chunkLengths (data: Uint8Array, params: CdcParams = CHUNKER_V1): number[] {
  checkParams(params)
  const masks = masksFor(params)
  const lengths: number[] = []
  let start = 0
  while (start < data.length) {
    const len = findBoundary(data, start, data.length, true, params, masks)
    lengths.push(len)
    start += len
  }
  return lengths
}
