import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cidForChunk } from '../../src/cas/hasher.js'
import type { FilePart } from '../../src/overlay/interface.js'
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

C.run()
