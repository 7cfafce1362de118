import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { numberOption, UsageError } from '../../src/cli/command.js'

const Options = suite('numberOption')

const usage = (fn: () => unknown): string => {
  try { fn() } catch (err) { assert.instance(err, UsageError); return (err as Error).message }
  assert.unreachable('no UsageError')
  return ''
}

Options('the value within its bounds, the fallback when absent, a usage error otherwise', () => {
  assert.is(numberOption({ 'cache-mb': '64' }, 'cache-mb', 'a number', { min: 0 }, 256), 64)
  assert.is(numberOption({ 'cache-mb': '0.5' }, 'cache-mb', 'a number', { min: 0 }, 256), 0.5)
  assert.is(numberOption({}, 'cache-mb', 'a number', { min: 0 }, 256), 256)
  assert.is(numberOption({}, 'workers', 'a number from 1 to 64', { min: 1, max: 64, integer: true }), undefined)
  assert.is(numberOption({ workers: '64' }, 'workers', 'a number from 1 to 64', { min: 1, max: 64, integer: true }), 64)
  for (const bad of ['0', '65', '2.5', 'four', '-1']) {
    assert.is(usage(() => numberOption({ workers: bad }, 'workers', 'a number from 1 to 64', { min: 1, max: 64, integer: true })), '--workers takes a number from 1 to 64', bad)
  }
  assert.is(usage(() => numberOption({ 'cache-mb': 'NaN' }, 'cache-mb', 'a number', { min: 0 })), '--cache-mb takes a number')
  assert.is(usage(() => numberOption({ 'cache-mb': true }, 'cache-mb', 'a number', { min: 0 })), '--cache-mb takes a value')
})

Options.run()
