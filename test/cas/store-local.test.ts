import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cidForChunk, fromTransferable, openLocalStore, prepareChunk, toTransferable, type LocalStore } from '../../src/cas/index.js'
import { chunkStoreContract } from '../contract/chunk-store.js'
import { rejects } from '../helpers/assert.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

chunkStoreContract('local (pack files)', async () => {
  const dir = await tmpdir()
  const store = await openLocalStore(dir, { packSizeBytes: 256 * 1024 })
  return { store, cleanup: async () => { await store.close(); await rmrf(dir) } }
})

const Local = suite<{ dir: string, store: LocalStore }>('LocalStore')
Local.before.each(async (ctx) => { ctx.dir = await tmpdir(); ctx.store = await openLocalStore(ctx.dir, { packSizeBytes: 1024 * 1024 }) })
Local.after.each(async (ctx) => { await ctx.store.close(); await rmrf(ctx.dir) })

Local('blocks survive close and reopen, across several pack files', async (ctx) => {
  const blocks = Array.from({ length: 40 }, (_, i) => seededBytes(i + 1, 100_000))
  for (const b of blocks) await ctx.store.put(cidForChunk(b), b)
  await ctx.store.close()
  ctx.store = await openLocalStore(ctx.dir, { packSizeBytes: 1024 * 1024 })
  for (const b of blocks) assert.equal(await ctx.store.get(cidForChunk(b)), b)
  const packs = (await readdir(join(ctx.dir, 'packs'))).filter((f) => f.endsWith('.pack'))
  assert.ok(packs.length >= 4, `expected several packs, got ${packs.length}`)
  assert.equal(ctx.store.recovery.reindexed, 0)
})

Local('compressible chunks are stored compressed, incompressible ones as they are', async ({ store }) => {
  const text = new TextEncoder().encode('the same line again and again\n'.repeat(3000))
  await store.put(cidForChunk(text), text)
  let s = await store.stats()
  assert.ok(s.storedBytes < text.length / 10, `stored ${s.storedBytes} of ${text.length}`)
  const noise = seededBytes(77, 65536)
  await store.put(cidForChunk(noise), noise)
  s = await store.stats()
  assert.is(s.chunks, 2)
  assert.is(s.rawBytes, text.length + noise.length)
  assert.ok(s.storedBytes - (s.storedBytes - noise.length) >= 0 && s.storedBytes < text.length / 10 + noise.length + 200)
})

Local('putPrepared() stores once and reports whether it stored', async ({ store }) => {
  const p = prepareChunk(seededBytes(5, 70_000))
  assert.is(await store.putPrepared(p), true)
  assert.is(await store.putPrepared(p), false)
  assert.is(await store.putPrepared(fromTransferable(structuredClone(toTransferable(p)))), false)
  assert.equal(await store.get(p.cid), seededBytes(5, 70_000))
  assert.equal(String(p.cid), String(cidForChunk(seededBytes(5, 70_000))))
})

Local('putPreparedMany() stores a batch once, duplicates within it included', async ({ store }) => {
  const ps = Array.from({ length: 50 }, (_, i) => prepareChunk(seededBytes(i % 40, 10_000)))
  assert.is(await store.putPreparedMany(ps), 40)
  assert.is(await store.putPreparedMany(ps), 0)
  for (let i = 0; i < 40; i++) assert.equal(await store.get(ps[i].cid), seededBytes(i, 10_000))
  assert.is((await store.stats()).chunks, 40)
})

Local('re-putting everything after a reopen stores nothing new', async (ctx) => {
  const blocks = Array.from({ length: 30 }, (_, i) => seededBytes(i + 100, 50_000))
  for (const b of blocks) await ctx.store.putPrepared(prepareChunk(b))
  await ctx.store.close()
  ctx.store = await openLocalStore(ctx.dir)
  const before = await ctx.store.stats()
  for (const b of blocks) assert.is(await ctx.store.putPrepared(prepareChunk(b)), false)
  for (const b of blocks) await ctx.store.put(cidForChunk(b), b)
  await ctx.store.flush()
  const after = await ctx.store.stats()
  assert.equal(after, before)
})

Local('a second open of the same store rejects CAS_STORE_LOCKED; after close it opens', async (ctx) => {
  await rejects(openLocalStore(ctx.dir), 'CAS_STORE_LOCKED')
  await ctx.store.close()
  ctx.store = await openLocalStore(ctx.dir)
})

Local('pins: set, replace, list sorted, resolve, remove; names are checked', async ({ store }) => {
  const a = seededBytes(1, 10); const b = seededBytes(2, 10)
  await store.put(cidForChunk(a), a); await store.put(cidForChunk(b), b)
  await store.pin('debian/12', cidForChunk(a))
  await store.pin('Debian/12/current', cidForChunk(a))
  await store.pin('debian/12', cidForChunk(b))
  assert.equal((await store.pins()).map((p) => [p.name, String(p.root)]), [['Debian/12/current', String(cidForChunk(a))], ['debian/12', String(cidForChunk(b))]])
  assert.equal(String(await store.resolvePin('debian/12')), String(cidForChunk(b)))
  assert.is(await store.unpin('debian/12'), true)
  assert.is(await store.unpin('debian/12'), false)
  assert.is(await store.resolvePin('debian/12'), undefined)
  await rejects(store.requirePin('debian/12'), 'CAS_PIN_NOT_FOUND')
  await rejects(store.pin('bad name', cidForChunk(a)), 'CAS_BAD_PIN_NAME')
  await rejects(store.pin('../x', cidForChunk(a)), 'CAS_BAD_PIN_NAME')
  await rejects(store.pin('absent', cidForChunk(seededBytes(3, 10))), 'CAS_CHUNK_MISSING')
  assert.is((await store.stats()).pins, 1)
})

Local('stats() counts chunks, bytes, pack files and pins, before and after a flush', async ({ store }) => {
  const b = seededBytes(9, 30_000)
  await store.put(cidForChunk(b), b)
  const s1 = await store.stats()
  await store.flush()
  const s2 = await store.stats()
  assert.is(s1.chunks, 1); assert.is(s1.rawBytes, 30_000)
  assert.is(s2.chunks, 1); assert.is(s2.packFiles, 1); assert.is(s2.packBytes, s2.storedBytes)
})

Local('a store that opened empty (lookups of keys it never indexed skip LevelDB) finds what it committed, also after a GC and a reopen', async (ctx) => {
  const [a, b, c] = [1, 2, 3].map((i) => seededBytes(900 + i, 50_000))
  await ctx.store.put(cidForChunk(a), a)
  await ctx.store.put(cidForChunk(b), b)
  await ctx.store.flush() // committed: no longer pending, found through the index
  assert.ok(await ctx.store.has(cidForChunk(a)))
  assert.not.ok(await ctx.store.has(cidForChunk(c)))
  assert.equal(await ctx.store.get(cidForChunk(b)), b)
  const r = await ctx.store.gc() // nothing pinned: both go
  assert.is(r.removedChunks, 2)
  assert.not.ok(await ctx.store.has(cidForChunk(a)))
  await ctx.store.put(cidForChunk(a), a) // stored again, not taken as present
  await ctx.store.flush()
  assert.equal(await ctx.store.get(cidForChunk(a)), a)
  await ctx.store.close()
  ctx.store = await openLocalStore(ctx.dir, { packSizeBytes: 1024 * 1024 }) // not empty at open: LevelDB answers
  assert.equal(await ctx.store.get(cidForChunk(a)), a)
  assert.not.ok(await ctx.store.has(cidForChunk(b)))
  await ctx.store.put(cidForChunk(c), c)
  await ctx.store.flush()
  assert.equal(await ctx.store.get(cidForChunk(c)), c)
})

Local.run()
