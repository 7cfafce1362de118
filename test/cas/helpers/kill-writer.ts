// Child process for the kill -9 test: writes seeded chunks into a store forever, flushing
// every FLUSH_EVERY chunks and printing "acked N" once chunks 0..N-1 are durable.
// Usage: node kill-writer.js STORE_DIR START [END]; prints "done stored N" at END.
import { openLocalStore, prepareChunk } from '../../../src/cas/index.js'
import { seededBytes } from '../../helpers/bytes.js'

export const FLUSH_EVERY = 25

/** Chunk `i` of the kill test (mixed sizes, half of them compressible). */
export function killChunk (i: number): Uint8Array {
  const size = 20_000 + (i % 13) * 3_000
  if (i % 2 === 0) return seededBytes(i + 1, size)
  const text = new TextEncoder().encode(`chunk ${i} `.repeat(Math.ceil(size / 10)))
  return text.subarray(0, size)
}

if (process.argv[1]?.endsWith('kill-writer.js') === true && process.argv[2] !== undefined) {
  const store = await openLocalStore(process.argv[2], { packSizeBytes: 2 * 1024 * 1024 })
  const lease = store.beginWrite()
  let stored = 0
  const end = Number(process.argv[4] ?? 1_000_000)
  for (let i = Number(process.argv[3] ?? 0); i < end; i++) {
    if (await store.putPrepared(prepareChunk(killChunk(i)))) stored++
    if ((i + 1) % FLUSH_EVERY === 0) {
      await store.flush()
      process.stdout.write(`acked ${i + 1} stored ${stored}\n`)
    }
  }
  lease.release()
  await store.close()
  process.stdout.write(`done stored ${stored}\n`)
}
