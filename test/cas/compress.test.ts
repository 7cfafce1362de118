import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  compress, compressAsync, compressWithReference, compressWithReferenceAsync, decompress, decompressWithReference, decompressWithReferenceAsync
} from '../../src/cas/compress.js'
import { seededBytes } from '../helpers/bytes.js'

const Z = suite('zstd on the thread pool')

const text = new TextEncoder().encode('Package: coreutils\nVersion: 9.1-1\nArchitecture: amd64\n'.repeat(5000))

Z('compressAsync gives frames that decompress to their input, many at once', async () => {
  const inputs = [new Uint8Array(0), seededBytes(5, 1), seededBytes(6, 300_000), text, ...Array.from({ length: 16 }, (_, i) => seededBytes(10 + i, 40_000 + i * 999))]
  const packed = await Promise.all(inputs.map(async (x) => await compressAsync(x, 2)))
  packed.forEach((p, i) => assert.is(Buffer.compare(decompress(p), inputs[i]), 0, `input ${i}`))
  assert.ok(packed[3].length < text.length / 20, 'compressible input shrinks')
  try { await compressAsync('text' as unknown as Uint8Array, 1); assert.unreachable('a string is refused') } catch (err) { assert.instance(err, TypeError) }
})

/** A new version of `old`: a stretch changed in the middle, a little appended. */
function edited (old: Uint8Array): Uint8Array {
  const next = Buffer.concat([old, seededBytes(99, 3000)])
  for (let i = Math.floor(old.length / 2); i < Math.floor(old.length / 2) + 500; i++) next[i] ^= 0x5a
  return next
}

Z('a delta against a reference: small, and read back by both readers whichever side made it', async () => {
  const old = Buffer.concat([seededBytes(7, 600_000), text])
  const next = edited(old)
  const delta = await compressWithReferenceAsync(next, old, 6)
  assert.ok(delta.length < 20_000, `delta ${delta.length} B`)
  assert.ok(delta.length < compress(next, 6).length / 10, 'far smaller than the file alone')
  assert.is(Buffer.compare(await decompressWithReferenceAsync(delta, old, next.length), next), 0)
  assert.is(Buffer.compare(decompressWithReference(delta, old), next), 0, 'a reader of the dictionary kind')
  const older = compressWithReference(next, old, 6)
  assert.is(Buffer.compare(await decompressWithReferenceAsync(older, old, next.length), next), 0, 'a delta of the dictionary kind')
})

Z('a reference that starts like a zstd dictionary is raw content all the same', async () => {
  const old = Buffer.concat([Buffer.from([0x37, 0xa4, 0x30, 0xec]), seededBytes(8, 200_000)])
  const next = edited(old)
  const delta = await compressWithReferenceAsync(next, old, 6)
  assert.ok(delta.length < 10_000, `delta ${delta.length} B`)
  assert.is(Buffer.compare(await decompressWithReferenceAsync(delta, old, next.length), next), 0)
})

Z('a delta read against the wrong reference, or bigger than announced, is refused', async () => {
  const old = seededBytes(9, 100_000)
  const next = edited(old)
  const delta = await compressWithReferenceAsync(next, old, 6)
  let refused = 0
  for (const attempt of [
    async () => await decompressWithReferenceAsync(delta, seededBytes(10, 100_000), next.length),
    async () => await decompressWithReferenceAsync(delta, old, next.length - 1),
    async () => await decompressWithReferenceAsync(seededBytes(11, 5000), old, next.length)
  ]) {
    try {
      const out = await attempt()
      // A wrong reference may decode without error: then it must not give the new version.
      assert.not.equal(Buffer.compare(out, next), 0)
    } catch (err) { assert.instance(err, Error); refused++ }
  }
  assert.ok(refused >= 2, `refused ${refused}`)
})

Z.run()
