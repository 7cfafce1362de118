import { chunkLengths } from '../../src/cas/chunker/cdc.js'
import { compress } from '../../src/cas/compress.js'
import { blake3Digest } from '../../src/cas/hasher.js'
import { measureInProcess } from './measure.js'

/** Single-core throughput of one stage of the import pipeline, on given data. */
export interface RawLimit {
  readonly stage: string
  readonly bytes: number
  /** Wall time. */
  readonly seconds: number
  /** CPU time of this process meanwhile (above `seconds` when a native stage uses threads). */
  readonly cpuSeconds: number
  /** bytes / CPU seconds: one core's throughput. */
  readonly bytesPerSecond: number
}

/** Runs `fn` over `files` once and returns its single-thread throughput (CPU time of this process). */
async function limit (stage: string, files: readonly Uint8Array[], fn: (data: Uint8Array) => void): Promise<RawLimit> {
  const bytes = files.reduce((s, f) => s + f.length, 0)
  const m = await measureInProcess(() => { for (const f of files) fn(f) })
  // These stages run synchronously on the main thread, so CPU time is one core's time; on a
  // shared machine it leaves out the time the thread waited for a core, which wall time counts.
  const cpu = m.userS + m.sysS
  return { stage, bytes, seconds: m.wallS, cpuSeconds: cpu, bytesPerSecond: bytes / (cpu > 0 ? cpu : m.wallS) }
}

/**
 * The raw limits on this machine, each stage alone on one core, over the same real data:
 * BLAKE3-256 of whole files (src/cas/hasher.ts), the FastCDC chunker finding the cuts of whole
 * files (src/cas/chunker), and zstd level 1 (src/cas/compress.ts, the store's level) of the
 * chunks the chunker cut. Each runs once after a warm-up pass on the first files.
 */
export async function measureRawLimits (files: readonly Uint8Array[]): Promise<RawLimit[]> {
  const chunks: Uint8Array[] = []
  for (const f of files) {
    let offset = 0
    for (const len of chunkLengths(f)) {
      chunks.push(f.subarray(offset, offset + len))
      offset += len
    }
  }
  const warm = files.slice(0, 50)
  for (const f of warm) { blake3Digest(f); chunkLengths(f); compress(f) }
  return [
    await limit('BLAKE3-256 (hasher.ts)', files, (f) => { blake3Digest(f) }),
    await limit('FastCDC cut points (chunker/cdc.ts)', files, (f) => { chunkLengths(f) }),
    await limit('zstd level 1 of the chunks (compress.ts)', chunks, (c) => { compress(c) })
  ]
}
