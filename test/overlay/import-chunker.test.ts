import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { chunkLengths, CHUNKER_V1, GEAR } from '../../src/cas/chunker/cdc.js'
import { posix } from '../../src/overlay/posix.js'
import { seededBytes } from '../helpers/bytes.js'

const P = posix()
P.cdcInit(GEAR)
const { minSize, avgSize, maxSize } = CHUNKER_V1
const native = (d: Uint8Array, final: boolean): number[] => [...P.cdcCuts(d, final, minSize, avgSize, maxSize)]

const Native = suite('native cut search (import workers)')

Native('cuts equal the pinned JS chunker on random, zero and short inputs', () => {
  const inputs = [seededBytes(1, 3_000_000), new Uint8Array(1_000_000), seededBytes(2, 100), seededBytes(3, 16_384), seededBytes(4, 16_385), new Uint8Array(0)]
  for (const d of inputs) assert.equal(native(d, true), chunkLengths(d), `length ${d.length}`)
})

Native('without final, only whole chunks are cut and the rest is left', () => {
  const d = seededBytes(5, 1_000_000)
  const whole = chunkLengths(d)
  const partial = native(d, false)
  assert.equal(partial, whole.slice(0, partial.length))
  const rest = d.length - partial.reduce((a, b) => a + b, 0)
  assert.ok(rest > 0 && rest < maxSize)
})

Native.run()
