import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cdcChunker, chunkLengths, CHUNKER_V1, GEAR } from '../../src/cas/chunker/index.js'
import { cidForChunk } from '../../src/cas/hasher.js'
import { inPieces, seededBytes } from '../helpers/bytes.js'

const Cdc = suite('content-defined chunker')

async function collect (source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const c of source) out.push(c)
  return out
}

Cdc('golden: the gear table is pinned', () => {
  assert.is(GEAR[0], GOLDEN_GEAR_0)
  assert.is(GEAR[255], GOLDEN_GEAR_255)
})

Cdc('golden: boundaries and CIDs of a seeded 4 MiB input are pinned', () => {
  const data = seededBytes(42, 4 * 1024 * 1024)
  const lengths = chunkLengths(data)
  assert.equal(lengths, GOLDEN_LENGTHS)
  let off = 0
  const cids = lengths.map((len) => { const c = cidForChunk(data.subarray(off, off + len)); off += len; return c.toString() })
  assert.is(cids[0], GOLDEN_FIRST_CID)
  assert.is(cids[cids.length - 1], GOLDEN_LAST_CID)
})

Cdc('every chunk respects min and max sizes, and they sum to the input', () => {
  const data = seededBytes(7, 3 * 1024 * 1024 + 123)
  const lengths = chunkLengths(data)
  assert.is(lengths.reduce((a, b) => a + b, 0), data.length)
  lengths.slice(0, -1).forEach((l) => assert.ok(l >= CHUNKER_V1.minSize && l <= CHUNKER_V1.maxSize, `length ${l}`))
})

Cdc('streaming gives the same cuts whatever the read size', async () => {
  const data = seededBytes(9, 2 * 1024 * 1024 + 777)
  const expected = chunkLengths(data)
  for (const piece of [1000, 65_536, 300_000, 5_000_000]) {
    const chunks = await collect(cdcChunker()(inPieces(data, piece)))
    assert.equal(chunks.map((c) => c.length), expected, `piece size ${piece}`)
    assert.equal(Buffer.concat(chunks), Buffer.from(data))
  }
})

Cdc('an insertion changes only the chunks around it', () => {
  const data = seededBytes(11, 4 * 1024 * 1024)
  const edited = new Uint8Array(data.length + 5)
  edited.set(data.subarray(0, 2_000_000)); edited.set([1, 2, 3, 4, 5], 2_000_000); edited.set(data.subarray(2_000_000), 2_000_005)
  const cidsOf = (d: Uint8Array): Set<string> => {
    let off = 0
    return new Set(chunkLengths(d).map((l) => { const c = cidForChunk(d.subarray(off, off + l)).toString(); off += l; return c }))
  }
  const before = cidsOf(data)
  const after = [...cidsOf(edited)]
  const fresh = after.filter((c) => !before.has(c))
  assert.ok(fresh.length <= 2, `${fresh.length} new chunks`)
})

Cdc('empty input yields no chunks; tiny input yields one', async () => {
  assert.equal(await collect(cdcChunker()(inPieces(new Uint8Array(0), 10))), [])
  const one = await collect(cdcChunker()(inPieces(new Uint8Array([1, 2, 3]), 10)))
  assert.equal(one.map((c) => [...c]), [[1, 2, 3]])
})

// Golden values, recorded from CHUNKER_V1. A change here changes every root CID.
const GOLDEN_GEAR_0 = 2094492988
const GOLDEN_GEAR_255 = 2552186151
const GOLDEN_LENGTHS = [
  78976, 71481, 82025, 45815, 69442, 71502, 124635, 83840, 116197, 67093, 48431, 85395, 72850, 71267, 86366,
  70874, 69906, 71305, 68770, 90499, 52573, 73606, 67184, 70389, 77267, 25572, 73137, 84780, 55693, 72300,
  65927, 65947, 65845, 16994, 67051, 67718, 77829, 92761, 43286, 40370, 50729, 107230, 73397, 75446, 72201,
  69774, 42348, 88169, 90974, 65615, 58363, 117715, 67319, 92636, 101852, 68403, 67337, 73570, 8328
]
const GOLDEN_FIRST_CID = 'bafkr4icminjbsu7a7uvumob6jmdtw33fka7q3khi5qntdyddjmjo5log2e'
const GOLDEN_LAST_CID = 'bafkr4iehk2hwux47jgwezaalev3aqcbsqxsx5nlhmq3do5syvhgokctk2y'

Cdc.run()
