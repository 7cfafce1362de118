import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { openLevelKv } from '../../src/overlay/kv.js'
import { cachedKv } from '../../src/nfs/kv-cache.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

const KvCache = suite('cachedKv')

KvCache('reads through, writes through, and never serves a value older than the last batch', async () => {
  const dir = await tmpdir()
  try {
    const kv = cachedKv(await openLevelKv(join(dir, 'db')), 4)
    const v = (s: string): number[] => [...new TextEncoder().encode(s)]
    const b = (s: string): Uint8Array => new TextEncoder().encode(s)
    const got = async (key: string): Promise<number[] | undefined> => { const x = await kv.get(key); return x === undefined ? undefined : [...x] }
    assert.is(await kv.get('a'), undefined)
    await kv.batch([{ key: 'a', value: b('1') }, { key: 'b', value: b('2') }])
    assert.equal(await got('a'), v('1'))
    // A get racing with a batch must not leave the old value behind.
    const racing = kv.get('c')
    await kv.batch([{ key: 'c', value: b('3') }])
    await racing
    assert.equal(await got('c'), v('3'))
    await kv.batch([{ key: 'a' }])
    assert.is(await kv.get('a'), undefined)
    for (const k of ['d', 'e', 'f', 'g', 'h']) await kv.batch([{ key: k, value: b(k) }])
    assert.equal(await got('b'), v('2'), 'evicted entries are read again')
    const seen: string[] = []
    for await (const [k] of kv.range('a', 'z')) seen.push(k)
    assert.equal(seen, ['b', 'c', 'd', 'e', 'f', 'g', 'h'])
    // Big values (file content in a writable layer) pass through without being kept.
    const big = new Uint8Array(100_000).fill(9)
    await kv.batch([{ key: 'k:big', value: big }])
    assert.is((await kv.get('k:big'))!.length, 100_000)
    await kv.close()
    const again = await openLevelKv(join(dir, 'db'))
    assert.equal([...(await again.get('c'))!], v('3'))
    await again.close()
  } finally { await rmrf(dir) }
})

KvCache.run()
