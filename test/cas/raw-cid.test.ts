import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { cidForChunk } from '../../src/cas/index.js'
import { rawChunkCidBytes } from '../../src/cas/raw-cid.js'
import { seededBytes } from '../helpers/bytes.js'

test('rawChunkCidBytes equals the bytes of cidForChunk (empty, small and chunk-sized inputs)', () => {
  for (const size of [0, 1, 100, 65_536, 262_144]) {
    const bytes = seededBytes(size + 3, size)
    assert.equal(rawChunkCidBytes(bytes), cidForChunk(bytes).bytes)
  }
})

test.run()
