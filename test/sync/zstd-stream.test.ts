import zstd from 'zstd-napi'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { compressStream, decompressStream } from '../../src/sync/zstd-stream.js'
import { rejects } from '../helpers/assert.js'
import { seededBytes } from '../helpers/bytes.js'

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

/** `data` as a stream of pieces of `size` bytes. */
async function * piecesOf (data: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size)
}

const text = new TextEncoder().encode('GET /usr/share/doc/coreutils/copyright HTTP/1.1\n'.repeat(40_000))
const mixed = Buffer.concat([seededBytes(1, 700_000), text, seededBytes(2, 300_000)])

const Z = suite('zstd transfer streams')

Z('round trip at the LAN and the delta level, from small and large pieces', async () => {
  for (const level of [1, 6]) {
    for (const size of [100, 65_536, 1 << 20]) {
      const packed = await collect(compressStream(piecesOf(mixed, size), level))
      assert.ok(packed.length < mixed.length * 0.6, `level ${level}: ${packed.length} of ${mixed.length}`)
      assert.is(Buffer.compare(await collect(decompressStream(piecesOf(packed, size))), mixed), 0, `level ${level}, pieces of ${size}`)
      assert.is(Buffer.compare(zstd.decompress(packed), mixed), 0, 'a plain zstd frame other tools read')
    }
  }
})

Z('an empty stream and a stream of two frames', async () => {
  const none = await collect(compressStream(piecesOf(new Uint8Array(0), 1), 1))
  assert.is((await collect(decompressStream(piecesOf(none, 7)))).length, 0)
  const two = Buffer.concat([zstd.compress(text), zstd.compress(seededBytes(3, 5000))])
  assert.is(Buffer.compare(await collect(decompressStream(piecesOf(two, 333))), Buffer.concat([text, seededBytes(3, 5000)])), 0)
})

Z('a small input that expands a lot comes out in bounded pieces', async () => {
  const zeros = new Uint8Array(64 << 20)
  const packed = zstd.compress(zeros)
  assert.ok(packed.length < 10_000)
  let total = 0
  let largest = 0
  for await (const p of decompressStream(piecesOf(packed, packed.length))) {
    total += p.length
    largest = Math.max(largest, p.length)
    assert.ok(p.every((b) => b === 0))
  }
  assert.is(total, zeros.length)
  assert.ok(largest <= 5 << 20, `largest piece ${largest}`)
})

Z('malformed and truncated streams fail with ZSTD_ERROR; errors of the source come through unchanged', async () => {
  await rejects(collect(decompressStream(piecesOf(seededBytes(4, 10_000), 1000))), 'ZSTD_ERROR')
  const packed = zstd.compress(mixed)
  await rejects(collect(decompressStream(piecesOf(packed.subarray(0, packed.length - 100), 4096))), 'ZSTD_ERROR')
  const broken = async function * (): AsyncIterable<Uint8Array> {
    yield packed.subarray(0, 1000)
    throw Object.assign(new Error('connection reset'), { code: 'TEST_RESET' })
  }
  await rejects(collect(decompressStream(broken())), 'TEST_RESET')
  await rejects(collect(compressStream(broken(), 1)), 'TEST_RESET')
})

Z('a consumer that stops early leaves nothing running', async () => {
  const packed = zstd.compress(mixed)
  for await (const p of decompressStream(piecesOf(packed, 1000))) { assert.ok(p.length > 0); break }
  for await (const p of compressStream(piecesOf(mixed, 300_000), 1)) { assert.ok(p.length >= 0); break }
})

Z.run()
