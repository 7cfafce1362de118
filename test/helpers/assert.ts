import * as assert from 'uvu/assert'

/** Awaits `promise` and asserts it rejects with an error whose `code` is `code`. Returns the error. */
export async function rejects (promise: Promise<unknown>, code: string): Promise<Error & { code?: string }> {
  try {
    await promise
  } catch (err) {
    const e = err as Error & { code?: string }
    assert.is(e.code, code, `expected code ${code}, got ${String(e.code)}: ${e.message}`)
    return e
  }
  assert.unreachable(`expected a rejection with code ${code}`)
  throw new Error('unreachable')
}
