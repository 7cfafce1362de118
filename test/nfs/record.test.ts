import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RecordDecoder, recordMark } from '../../src/nfs/record.js'
import { seededBytes, seededRandom } from '../helpers/bytes.js'

const Record = suite('TCP record marking (RFC 5531 §11)')

function frame (fragments: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = []
  fragments.forEach((f, i) => {
    const h = Buffer.alloc(4)
    h.writeUInt32BE(((i === fragments.length - 1 ? 0x8000_0000 : 0) | f.length) >>> 0)
    parts.push(h, f)
  })
  return Buffer.concat(parts)
}

function collect (max: number): { records: Uint8Array[], oversized: Array<{ head: Uint8Array, size: number }>, d: RecordDecoder } {
  const records: Uint8Array[] = []
  const oversized: Array<{ head: Uint8Array, size: number }> = []
  const d = new RecordDecoder({ record: (b) => records.push(Uint8Array.from(b)), oversized: (head, size) => oversized.push({ head, size }) }, max)
  return { records, oversized, d }
}

Record('reassembles multi-fragment records fed one byte at a time', () => {
  const a = seededBytes(1, 100)
  const b = seededBytes(2, 7)
  const stream = Buffer.concat([frame([a.subarray(0, 30), a.subarray(30, 30), a.subarray(30)]), frame([b])])
  const { records, d } = collect(1000)
  for (const byte of stream) d.push(Uint8Array.of(byte))
  assert.is(records.length, 2)
  assert.equal([...records[0]!], [...a])
  assert.equal([...records[1]!], [...b])
  assert.ok(d.idle)
})

Record('random cuts of a stream of records yield the same records', () => {
  const rand = seededRandom(7)
  const msgs = Array.from({ length: 50 }, (_, i) => seededBytes(i + 10, Math.floor(rand() * 300)))
  const stream = Buffer.concat(msgs.map((m) => frame([m.subarray(0, m.length >> 1), m.subarray(m.length >> 1)])))
  const { records, d } = collect(1000)
  for (let at = 0; at < stream.length;) {
    const n = 1 + Math.floor(rand() * 200)
    d.push(stream.subarray(at, at + n))
    at += n
  }
  assert.is(records.length, msgs.length)
  records.forEach((r, i) => assert.equal(Buffer.compare(r, msgs[i]!), 0))
})

Record('an oversized record is skipped, reported with its xid, and the next one decodes', () => {
  const big = seededBytes(3, 5000)
  const small = seededBytes(4, 12)
  const { records, oversized, d } = collect(1000)
  const stream = Buffer.concat([frame([big.subarray(0, 600), big.subarray(600)]), frame([small])])
  for (let at = 0; at < stream.length; at += 97) d.push(stream.subarray(at, at + 97))
  assert.is(oversized.length, 1)
  assert.is(oversized[0]!.size, 5000)
  assert.equal([...oversized[0]!.head], [...big.subarray(0, 4)])
  assert.is(records.length, 1)
  assert.equal([...records[0]!], [...small])
})

Record('a 2 GiB fragment header is refused without allocating it', () => {
  const { oversized, d } = collect(1000)
  d.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4))
  assert.is(oversized.length, 0, 'reported when the record ends')
  assert.not.ok(d.idle)
})

Record('recordMark sets the last-fragment bit', () => {
  assert.equal([...recordMark(5)], [0x80, 0, 0, 5])
})

Record.run()
