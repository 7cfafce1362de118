import * as dagCbor from '@ipld/dag-cbor'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cidForBlock, cidForChunk, DAG_CBOR_CODEC, type ChunkStore } from '../../src/cas/index.js'
import { rejects } from '../helpers/assert.js'
import { seededBytes } from '../helpers/bytes.js'

/** A fresh store and how to dispose of it (close it and delete its files). */
export interface StoreFixture { store: ChunkStore, cleanup: () => Promise<void> }

async function collect<T> (iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of iter) out.push(x)
  return out
}

/**
 * The behaviour every ChunkStore shares (src/cas/interface.ts). Each implementation runs it:
 * `chunkStoreContract('memory', async () => ({ store: new MemoryChunkStore(), cleanup }))`.
 */
export function chunkStoreContract (name: string, factory: () => Promise<StoreFixture>): void {
  const test = suite<{ fx: StoreFixture }>(`ChunkStore contract: ${name}`)
  test.before.each(async (ctx) => { ctx.fx = await factory() })
  test.after.each(async (ctx) => { await ctx.fx.cleanup() })

  test('get() resolves undefined and has() false for an absent chunk', async ({ fx }) => {
    const cid = cidForChunk(seededBytes(1, 100))
    assert.is(await fx.store.get(cid), undefined)
    assert.is(await fx.store.has(cid), false)
  })

  test('put() then get() returns the same bytes, for empty, small, large and compressible chunks', async ({ fx }) => {
    const blocks = [new Uint8Array(0), seededBytes(2, 10), seededBytes(3, 256 * 1024), new Uint8Array(200_000).fill(9)]
    for (const bytes of blocks) await fx.store.put(cidForChunk(bytes), bytes)
    for (const bytes of blocks) {
      const cid = cidForChunk(bytes)
      assert.ok(await fx.store.has(cid))
      assert.equal(await fx.store.get(cid), bytes)
    }
  })

  test('put() rejects CAS_CHUNK_INVALID for bytes that do not hash to the CID, and stores nothing', async ({ fx }) => {
    const cid = cidForChunk(seededBytes(4, 1000))
    await rejects(fx.store.put(cid, seededBytes(5, 1000)), 'CAS_CHUNK_INVALID')
    assert.is(await fx.store.has(cid), false)
  })

  test('put() is idempotent', async ({ fx }) => {
    const bytes = seededBytes(6, 5000)
    const cid = cidForChunk(bytes)
    await fx.store.put(cid, bytes)
    await fx.store.put(cid, bytes)
    await Promise.all([fx.store.put(cid, bytes), fx.store.put(cid, bytes)])
    assert.equal(await fx.store.get(cid), bytes)
  })

  test('the store keeps its own copy: changing bytes given to put() or got from get() changes nothing', async ({ fx }) => {
    for (const bytes of [seededBytes(7, 3000), Buffer.from(seededBytes(8, 3000))]) { // Buffer#slice does not copy
      const copy = new Uint8Array(bytes)
      const cid = cidForChunk(bytes)
      await fx.store.put(cid, bytes)
      bytes.fill(0)
      const got = await fx.store.get(cid)
      assert.equal(got, copy)
      got?.fill(1)
      assert.equal(await fx.store.get(cid), copy)
    }
  })

  test('dag-cbor blocks are stored and read under their own CIDs', async ({ fx }) => {
    const leaf = seededBytes(8, 100)
    const node = dagCbor.encode({ p: [[cidForChunk(leaf), 100]] })
    const cid = cidForBlock(DAG_CBOR_CODEC, node)
    await fx.store.put(cid, node)
    assert.equal(await fx.store.get(cid), node)
    assert.is(await fx.store.has(cidForChunk(leaf)), false)
  })

  test('missing() yields the absent CIDs in input order, from sync and async iterables', async ({ fx }) => {
    const all = Array.from({ length: 600 }, (_, i) => seededBytes(100 + i, 64))
    const cids = all.map((b) => cidForChunk(b))
    for (let i = 0; i < all.length; i += 3) await fx.store.put(cids[i], all[i])
    const expected = cids.filter((_, i) => i % 3 !== 0).map(String)
    assert.equal((await collect(fx.store.missing(cids))).map(String), expected)
    async function * gen (): AsyncIterable<typeof cids[number]> { yield * cids }
    assert.equal((await collect(fx.store.missing(gen()))).map(String), expected)
  })

  test('many concurrent puts all land', async ({ fx }) => {
    const all = Array.from({ length: 300 }, (_, i) => seededBytes(1000 + i, 1000 + i))
    await Promise.all(all.map(async (b) => { await fx.store.put(cidForChunk(b), b) }))
    for (const b of all) assert.equal(await fx.store.get(cidForChunk(b)), b)
  })

  test('a closed store rejects CAS_STORE_CLOSED', async ({ fx }) => {
    const bytes = seededBytes(9, 10)
    await fx.store.close()
    await rejects(fx.store.get(cidForChunk(bytes)), 'CAS_STORE_CLOSED')
    await rejects(fx.store.put(cidForChunk(bytes), bytes), 'CAS_STORE_CLOSED')
  })

  test.run()
}
