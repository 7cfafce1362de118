import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { checkPinName, isPinName } from '../../src/cas/index.js'

const Pins = suite('pin names')

Pins('accepts letters, digits and ._-/@ in non-empty segments', () => {
  for (const name of ['debian/12', 'Debian/12/current', 'app@2024.1', 'a', 'x_y-z.w', 'Deep/a/b/c/d']) assert.ok(isPinName(name), name)
})

Pins('rejects other characters, empty, "." and ".." segments, and over-long names, with CAS_BAD_PIN_NAME', () => {
  for (const name of ['', 'a b', 'a:b', 'é', '/abs', 'trailing/', 'a//b', './a', 'a/..', 'a\nb', 'x'.repeat(256)]) {
    assert.not.ok(isPinName(name), JSON.stringify(name))
    try { checkPinName(name); assert.unreachable() } catch (err) { assert.is((err as { code?: string }).code, 'CAS_BAD_PIN_NAME') }
  }
})

Pins.run()
