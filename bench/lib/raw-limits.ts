import { CHUNKER_V1, chunkLengths, GEAR } from '../../src/cas/chunker/cdc.js'
import zstd from 'zstd-napi'
import { compress, decompress, STORE_ZSTD_LEVEL } from '../../src/cas/compress.js'
import { blake3Digest } from '../../src/cas/hasher.js'
import { STORE_FRAME_RAW_BYTES } from '../../src/cas/prepare.js'
import { posix } from '../../src/overlay/posix.js'
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
  /** How many pieces (frames) `bytes` came in, when each piece's cost matters on its own. */
  readonly pieces?: number
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
 * BLAKE3-256 of whole files (src/cas/hasher.ts), the FastCDC cuts of whole files as the ingest
 * workers find them (native/posix.c cdcCuts; the same cuts as src/cas/chunker/cdc.ts, whose JS
 * version is listed too), and zstd at the store's level of frames of consecutive chunks as the
 * workers build them (up to STORE_FRAME_RAW_BYTES, compress.ts), and the decompression of those
 * frames (what a random read of one member pays for its frame: store/read.ts decompresses the
 * whole frame). Each runs once after a warm-up pass on the first files.
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
  const frames: Uint8Array[] = []
  for (let i = 0; i < chunks.length;) {
    let j = i
    let bytes = 0
    while (j < chunks.length && (j === i || bytes + chunks[j].length <= STORE_FRAME_RAW_BYTES)) bytes += chunks[j++].length
    const frame = new Uint8Array(bytes)
    let at = 0
    for (const c of chunks.slice(i, j)) { frame.set(c, at); at += c.length }
    frames.push(frame)
    i = j
  }
  const P = posix()
  P.cdcInit(GEAR)
  const { minSize, avgSize, maxSize } = CHUNKER_V1
  const cuts = (f: Uint8Array): void => { P.cdcCuts(f, true, minSize, avgSize, maxSize) }
  // The parameters native/ingest-core.c pins for level 2 (fast strategy, 16 Ki hash slots,
  // 6-byte matches); transfers and GC (compress.ts) use zstd's own level-2 parameters.
  const importerZstd = new zstd.Compressor()
  importerZstd.setParameters({ compressionLevel: STORE_ZSTD_LEVEL, strategy: 'fast', hashLog: 14, minMatch: 6 })
  const packed = frames.map((f) => importerZstd.compress(f))
  const warm = files.slice(0, 50)
  for (const f of warm) { blake3Digest(f); chunkLengths(f); cuts(f); compress(f, STORE_ZSTD_LEVEL) }
  for (const p of packed.slice(0, 10)) decompress(p)
  const unzstd = async (): Promise<RawLimit> => {
    const m = await limit('unzstd of those frames (a random member read: one frame)', packed, (p) => { decompress(p) })
    const raw = frames.reduce((s, f) => s + f.length, 0)
    return { ...m, bytes: raw, bytesPerSecond: raw / (m.cpuSeconds > 0 ? m.cpuSeconds : m.seconds), pieces: packed.length }
  }
  return [
    await limit('BLAKE3-256 (hasher.ts)', files, (f) => { blake3Digest(f) }),
    await limit('FastCDC cut points, C (posix.c, workers)', files, cuts),
    await limit('FastCDC cut points, JS (chunker/cdc.ts)', files, (f) => { chunkLengths(f) }),
    await limit(`zstd level ${STORE_ZSTD_LEVEL} of ${STORE_FRAME_RAW_BYTES / 1024} KiB frames`, frames, (f) => { compress(f, STORE_ZSTD_LEVEL) }),
    await limit(`zstd as the importer runs it (${STORE_FRAME_RAW_BYTES / 1024} KiB frames)`, frames, (f) => { importerZstd.compress(f) }),
    await unzstd()
  ]
}
