import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { XdrReader, XdrWriter, pad4 } from '../../src/nfs/xdr.js'
import { XdrError } from '../../src/nfs/errors.js'

const Xdr = suite('XDR (RFC 4506)')

function throwsXdr (fn: () => unknown): void {
  try { fn() } catch (err) { assert.instance(err, XdrError); assert.is((err as XdrError).code, 'NFS_BAD_XDR'); return }
  assert.unreachable('expected an XdrError')
}

Xdr('round-trips every type with big-endian layout and zero padding', () => {
  const w = new XdrWriter(4)
  w.uint32(0xdeadbeef).int32(-2).uint64(2n ** 64n - 1n).int64(-5n).bool(true).opaque(Uint8Array.of(1, 2, 3)).string('héllo').opaqueFixed(Uint8Array.of(9))
  const bytes = w.bytes()
  assert.equal([...bytes.subarray(0, 8)], [0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xfe])
  assert.is(bytes.length % 4, 0)
  const r = new XdrReader(bytes)
  assert.is(r.uint32(), 0xdeadbeef)
  assert.is(r.int32(), -2)
  assert.is(r.uint64(), 2n ** 64n - 1n)
  assert.is(r.int64(), -5n)
  assert.is(r.bool(), true)
  assert.equal([...r.opaque()], [1, 2, 3])
  assert.is(r.string(), 'héllo')
  assert.equal([...r.opaqueFixed(1)], [9])
  r.end()
})

Xdr('padding bytes are zero and counted', () => {
  for (let n = 0; n < 9; n++) {
    const bytes = new XdrWriter().opaque(new Uint8Array(n).fill(7)).bytes()
    assert.is(bytes.length, 4 + n + pad4(n))
    assert.ok(bytes.subarray(4 + n).every((b) => b === 0))
  }
})

Xdr('opaqueRef splices large payloads without copying and keeps the layout', () => {
  const big = new Uint8Array(10_001).fill(5)
  const w = new XdrWriter().uint32(1).opaqueRef(big).uint32(2)
  const pieces = w.pieces()
  assert.ok(pieces.includes(big), 'payload is a piece by reference')
  const r = new XdrReader(Buffer.concat(pieces))
  assert.is(r.uint32(), 1)
  assert.equal(r.opaque().length, 10_001)
  assert.is(r.uint32(), 2)
  r.end()
})

Xdr('opaqueRefs joins pieces into one opaque: large ones by reference, small ones copied, padded', () => {
  const big = new Uint8Array(5000).fill(7)
  const small = Uint8Array.of(1, 2, 3)
  const w = new XdrWriter().uint32(1).opaqueRefs([small, big, small, new Uint8Array(0)]).uint32(2)
  const pieces = w.pieces()
  assert.ok(pieces.includes(big), 'large piece by reference')
  assert.not.ok(pieces.includes(small), 'small piece copied')
  const r = new XdrReader(Buffer.concat(pieces))
  assert.is(r.uint32(), 1)
  assert.equal([...r.opaque()], [...small, ...big, ...small])
  assert.is(r.uint32(), 2)
  r.end()
})

Xdr('the reader throws XdrError on truncation, bounds, bad bools and bad UTF-8', () => {
  throwsXdr(() => new XdrReader(Uint8Array.of(0, 0, 0)).uint32())
  throwsXdr(() => new XdrReader(Uint8Array.of(0, 0, 0, 2)).bool())
  throwsXdr(() => new XdrReader(Uint8Array.of(0, 0, 0, 9, 1, 2, 3, 4)).opaque())
  throwsXdr(() => new XdrReader(new XdrWriter().opaque(new Uint8Array(65)).bytes()).opaque(64))
  throwsXdr(() => new XdrReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff)).opaque())
  throwsXdr(() => new XdrReader(new XdrWriter().opaque(Uint8Array.of(0xc3, 0x28)).bytes()).string())
  throwsXdr(() => new XdrReader(Uint8Array.of(0, 0, 0, 1, 0)).end())
  throwsXdr(() => { const r = new XdrReader(Uint8Array.of(0, 0, 0, 1)); r.uint32(); r.uint64() })
})

Xdr('the writer rejects out-of-range numbers as programming errors', () => {
  assert.throws(() => new XdrWriter().uint32(-1), RangeError)
  assert.throws(() => new XdrWriter().uint32(2 ** 32), RangeError)
})

Xdr.run()
