import { blake3 as referenceBlake3 } from '@napi-rs/blake-hash'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CID } from 'multiformats/cid'
import { cidForBlock, cidForChunk } from '../../src/cas/index.js'
import { blake3Digest, cidFromBytes } from '../../src/cas/hasher.js'
import { posix } from '../../src/overlay/posix.js'
import { seededBytes } from '../helpers/bytes.js'

const P = posix()

// Lengths around every boundary of BLAKE3's layout: a 64-byte block, a 1 KiB chunk, the
// 8-chunk SIMD batch, the odd chunk carried up a tree level, and chunk-sized inputs.
const SIZES = [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 2049, 3072, 5 * 1024 + 7, 7 * 1024, 8 * 1024, 8 * 1024 + 1,
  9 * 1024, 15 * 1024 + 512, 16 * 1024, 17 * 1024 + 3, 31 * 1024, 33 * 1024, 65_535, 65_536, 65_537, 100_000,
  262_144, 262_145, 600 * 1024 + 11]

test('native BLAKE3 equals @napi-rs/blake-hash at every layout boundary', () => {
  for (const size of SIZES) {
    const bytes = seededBytes(size + 11, size)
    assert.equal(P.blake3(bytes), new Uint8Array(referenceBlake3(bytes)), `length ${size}`)
  }
})

test('native BLAKE3 equals @napi-rs/blake-hash on 200 seeded lengths up to 300 KiB', () => {
  let x = 12345
  for (let i = 0; i < 200; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    const size = x % 300_000
    const bytes = seededBytes(i, size)
    assert.equal(P.blake3(bytes), new Uint8Array(referenceBlake3(bytes)), `length ${size}`)
  }
})

test('blake3Digest (the addon below 1 KiB, @napi-rs/blake-hash from there) equals @napi-rs/blake-hash', () => {
  for (const size of [0, 1, 90, 1023, 1024, 1025, 65_536]) {
    const bytes = seededBytes(size + 13, size)
    assert.equal(new Uint8Array(blake3Digest(bytes)), new Uint8Array(referenceBlake3(bytes)), `length ${size}`)
    assert.equal(new Uint8Array(blake3Digest(Buffer.from(bytes))), new Uint8Array(referenceBlake3(bytes)), `Buffer of length ${size}`)
  }
})

test('rawCid is the binary CID of cidForChunk', () => {
  for (const size of [0, 1, 4096, 65_536, 262_144]) {
    const bytes = seededBytes(size + 5, size)
    assert.equal(P.rawCid(bytes), cidForChunk(bytes).bytes)
  }
})

test('cidFromBytes builds the same CID as CID.decode, for raw chunk CIDs and others', () => {
  for (const size of [0, 1, 65_536]) {
    const bytes = seededBytes(size + 9, size)
    const cid = cidFromBytes(P.rawCid(bytes))
    const expected = cidForChunk(bytes)
    assert.ok(cid.equals(expected))
    assert.is(cid.toString(), expected.toString())
    assert.equal([...cid.multihash.digest], [...expected.multihash.digest])
    assert.equal([...cid.multihash.bytes], [...expected.multihash.bytes])
    assert.is(cid.code, expected.code)
    assert.is(cid.multihash.code, expected.multihash.code)
    assert.is(cid.multihash.size, expected.multihash.size)
  }
  const node = cidForBlock(0x71, seededBytes(3, 100))
  assert.ok(cidFromBytes(node.bytes.slice()).equals(node))
  assert.ok(cidFromBytes(node.bytes.slice()).equals(CID.decode(node.bytes)))
})

test.run()
