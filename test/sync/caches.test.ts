import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cidForChunk } from '../../src/cas/hasher.js'
import type { FilePart } from '../../src/overlay/interface.js'
import { AnswerCache } from '../../src/sync/answer-cache.js'
import { DeltaCache } from '../../src/sync/delta-cache.js'
import { seededBytes } from '../helpers/bytes.js'

const parts = (seed: number, n: number): FilePart[] => Array.from({ length: n }, (_, i) => ({ cid: cidForChunk(seededBytes(seed * 100 + i, 64)), size: 64 }))

const C = suite('DeltaCache')

C('keys tell targets, references and level apart', () => {
  const [a, b] = [parts(1, 3), parts(2, 2)]
  const k = DeltaCache.keyOf(a, b, 6)
  assert.is(DeltaCache.keyOf(a, b, 6), k)
  assert.is.not(DeltaCache.keyOf(a, b, 7), k)
  assert.is.not(DeltaCache.keyOf(b, a, 6), k)
  assert.is.not(DeltaCache.keyOf(a.slice(0, 2), [a[2], ...b], 6), k, 'the same CIDs split otherwise')
})

C('holds at most its bound, dropping the least recently used; remembers "no delta pays"', () => {
  const cache = new DeltaCache(3000)
  cache.set('a', new Uint8Array(1000))
  cache.set('b', new Uint8Array(1000))
  cache.set('none', null)
  assert.ok(cache.get('a') instanceof Uint8Array) // a is now the most recent
  cache.set('c', new Uint8Array(1000))
  assert.ok(cache.bytes <= 3000, `holds ${cache.bytes}`)
  assert.is(cache.get('b'), undefined, 'the least recently used went')
  assert.ok(cache.get('a') instanceof Uint8Array)
  assert.is(cache.get('none'), null)
  cache.set('huge', new Uint8Array(5000))
  assert.is(cache.get('huge'), undefined, 'larger than the bound: not kept')
  assert.ok(cache.hits >= 3 && cache.misses >= 2)
})

async function drain (source: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0
  for await (const c of source) n += c.length
  return n
}
async function * pieces (...sizes: number[]): AsyncIterable<Uint8Array> { for (const s of sizes) yield new Uint8Array(s) }

C('AnswerCache keeps complete answers within its bounds, keyed by tenant, level and request', async () => {
  const cache = new AnswerCache(10_000, 6_000)
  const body = new Uint8Array([1, 2, 3])
  const k = AnswerCache.keyOf('t1', 3, body)
  assert.is.not(AnswerCache.keyOf('t2', 3, body), k)
  assert.is.not(AnswerCache.keyOf('t1', 1, body), k)
  assert.is(await drain(cache.keep(k, pieces(1000, 2000), () => true)), 3000, 'passes everything through')
  assert.equal(cache.get(k)?.map((c) => c.length), [1000, 2000])
  await drain(cache.keep('incomplete', pieces(100), () => false))
  assert.is(cache.get('incomplete'), undefined)
  await drain(cache.keep('too-big', pieces(4000, 4000), () => true))
  assert.is(cache.get('too-big'), undefined, 'over the entry bound')
  await drain(cache.keep('b', pieces(5000), () => true))
  await drain(cache.keep('c', pieces(5000), () => true))
  assert.ok(cache.bytes <= 10_000)
  assert.is(cache.get(k), undefined, 'the least recently used went')
  assert.ok(cache.get('c') !== undefined)
  const none = new AnswerCache(0)
  await drain(none.keep('x', pieces(10), () => true))
  assert.is(none.get('x'), undefined)
})

C.run()
