import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { cidForChunk, MemoryChunkStore, openLocalStore } from '../../src/cas/index.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { openUnionView } from '../../src/overlay/union-view.js'
import { openTree } from '../../src/overlay/tree.js'
import { openWritableLayer } from '../../src/overlay/index.js'
import { viewFilesystem } from '../../src/nfs/backend-view.js'
import { ChunkCache, type BatchChunkReader } from '../../src/nfs/chunk-cache.js'
import { rejects } from '../helpers/assert.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

/** Imports a tree holding only /big (`size` bytes seeded by `seed`) from `dir`/src into `store`. */
async function importBigFile (dir: string, store: MemoryChunkStore, seed: number, size: number): Promise<{ root: CID, data: Uint8Array }> {
  await mkdir(join(dir, 'src'))
  const data = seededBytes(seed, size)
  await writeFile(join(dir, 'src', 'big'), data)
  return { root: (await importDirectory(join(dir, 'src'), store)).root, data }
}

const Cache = suite('ChunkCache')

/** A remote store that counts requests and can delay them. */
function counting (store: MemoryChunkStore, delayMs = 0): BatchChunkReader & { gets: number, batches: number } {
  const r = {
    gets: 0,
    batches: 0,
    has: async (cid: CID) => await store.has(cid),
    get: async (cid: CID) => { r.gets++; await new Promise((resolve) => setTimeout(resolve, delayMs)); return await store.get(cid) },
    async * getMany (cids: readonly CID[]) {
      r.batches++
      for (const cid of cids) { const bytes = await store.get(cid); if (bytes !== undefined) yield { cid, bytes } }
    }
  }
  return r
}

Cache('keeps hot chunks in memory within its byte bound', async () => {
  const local = new MemoryChunkStore()
  const blocks = Array.from({ length: 10 }, (_, i) => seededBytes(i + 1, 1000))
  for (const b of blocks) await local.put(cidForChunk(b), b)
  const cache = new ChunkCache(local, { maxBytes: 3500 })
  for (const b of blocks) assert.equal(await cache.get(cidForChunk(b)), b)
  assert.ok(cache.stats.bytes <= 3500)
  await cache.get(cidForChunk(blocks[9]!))
  assert.is(cache.stats.hits, 1)
  await cache.get(cidForChunk(blocks[0]!))
  assert.is(cache.stats.localReads, 11, 'the oldest was evicted')
})

Cache('fetches a missing chunk from the remote once for concurrent readers, verifies and keeps it', async () => {
  const local = new MemoryChunkStore()
  const remoteStore = new MemoryChunkStore()
  const b = seededBytes(42, 5000)
  const cid = cidForChunk(b)
  await remoteStore.put(cid, b)
  const remote = counting(remoteStore, 20)
  const cache = new ChunkCache(local, { remote })
  const got = await Promise.all(Array.from({ length: 8 }, async () => await cache.get(cid)))
  for (const g of got) assert.equal(g, b)
  assert.is(remote.gets, 1)
  assert.is(cache.stats.sharedFetches, 7)
  assert.ok(await local.has(cid), 'kept in the local store')
  assert.is(await cache.get(cidForChunk(seededBytes(43, 10))), undefined, 'absent everywhere')
})

Cache('a remote block that does not match its CID is refused', async () => {
  const b = seededBytes(7, 100)
  const cid = cidForChunk(b)
  const liar = { has: async () => true, get: async () => seededBytes(8, 100) }
  const local = new MemoryChunkStore()
  const cache = new ChunkCache(local, { remote: liar })
  await rejects(cache.get(cid), 'CAS_CHUNK_INVALID')
  assert.not.ok(await local.has(cid))
})

Cache('a sequential read through a lazy tree fetches ahead in batches, and the trace sees client reads', async () => {
  const dir = await tmpdir()
  try {
    const remoteStore = new MemoryChunkStore()
    const { root, data } = await importBigFile(dir, remoteStore, 99, 3_000_000)
    const remote = counting(remoteStore)
    const seen: string[] = []
    const cache = new ChunkCache(new MemoryChunkStore(), { remote, onRead: (cid) => { seen.push(cid.toString()) } })
    const view = await openUnionView({ lowers: [openTree(cache, root)], store: cache })
    const out: Uint8Array[] = []
    for (let at = 0; at < data.length; at += 1_048_576) out.push(await view.read('/big', at, 1_048_576))
    assert.is(Buffer.compare(Buffer.concat(out), data), 0)
    assert.ok(remote.batches >= 1, 'readahead used batches')
    assert.ok(remote.gets < cache.stats.remoteFetches / 2, `mostly batched: ${remote.gets} single gets of ${cache.stats.remoteFetches}`)
    assert.is(new Set(seen).size, seen.length > 0 ? new Set(seen).size : 1)
    await view.close()
  } finally { await rmrf(dir) }
})

Cache('blocks fetched ahead land in a local store in frames, readable after it reopens; a reader that verifies is trusted', async () => {
  const dir = await tmpdir()
  try {
    const remoteStore = new MemoryChunkStore()
    const { root, data } = await importBigFile(dir, remoteStore, 77, 3_000_000)
    for (const verifies of [false, true]) {
      const storeDir = join(dir, `local-${verifies}`)
      const local = await openLocalStore(storeDir)
      const remote = Object.assign(counting(remoteStore), { verifies })
      const cache = new ChunkCache(local, { remote })
      const view = await openUnionView({ lowers: [openTree(cache, root)], store: cache })
      const out: Uint8Array[] = []
      for (let at = 0; at < data.length; at += 1_048_576) out.push(await view.read('/big', at, 1_048_576))
      assert.is(Buffer.compare(Buffer.concat(out), data), 0)
      assert.ok(remote.batches >= 1, 'readahead used batches')
      await cache.flush()
      await view.close()
      await local.close()
      // Everything read was kept: the file reads back from the local store alone.
      const again = await openLocalStore(storeDir)
      const offline = await openUnionView({ lowers: [openTree(again, root)], store: again })
      assert.is(Buffer.compare(await offline.read('/big', 0, data.length), data), 0, 'read back without the remote')
      assert.ok((await again.stats({ frames: true })).frames! > 0, 'stored in frames')
      await offline.close()
      await again.close()
    }
  } finally { await rmrf(dir) }
})

Cache('readSlices returns the bytes of read as shared chunk views, across chunk and index boundaries', async () => {
  const dir = await tmpdir()
  try {
    const store = new MemoryChunkStore()
    const { root, data } = await importBigFile(dir, store, 42, 2_500_000)
    const cache = new ChunkCache(store)
    const view = await openUnionView({ lowers: [openTree(cache, root)], store: cache })
    for (const [at, n] of [[0, 1_048_576], [70_000, 300_000], [1_048_576, 1_048_576], [2_400_000, 1_048_576], [2_500_000, 10], [5, 0]] as const) {
      const slices = await view.readSlices('/big', at, n)
      assert.is(Buffer.compare(Buffer.concat(slices), data.subarray(at, at + n)), 0, `bytes at ${at}+${n}`)
      assert.is(Buffer.compare(Buffer.concat(slices), await view.read('/big', at, n)), 0)
    }
    const again = await view.readSlices('/big', 0, 1_048_576)
    assert.ok(again.length > 1 && again[0]!.buffer === (await view.readSlices('/big', 0, 10))[0]!.buffer, 'views of one cached chunk')
    await view.close()
  } finally { await rmrf(dir) }
})

Cache('a file content answers from memory (now) with the bytes slices gives, and only when every block it needs is there', async () => {
  const dir = await tmpdir()
  try {
    const store = new MemoryChunkStore()
    const { root, data } = await importBigFile(dir, store, 43, 2_500_000)
    const cache = new ChunkCache(store)
    const view = await openUnionView({ lowers: [openTree(cache, root)], store: cache })
    const content = (await view.fileContent('/big'))!
    assert.is(content.size, data.length)
    assert.is(content.now(0, 1_048_576), undefined, 'nothing read yet')
    assert.equal(content.now(2_500_000, 10), [], 'past the end')
    await content.slices(0, 100_000)
    assert.is(content.now(0, 1_048_576), undefined, 'only the first chunks are in memory')
    const ranges = [[0, 1_048_576], [70_000, 300_000], [1_048_576, 1_048_576], [2_400_000, 1_048_576], [5, 0], [1, 1]] as const
    for (const [at, n] of ranges) await content.slices(at, n)
    for (const [at, n] of ranges) {
      const now = content.now(at, n)
      assert.ok(now !== undefined, `in memory at ${at}+${n}`)
      assert.is(Buffer.compare(Buffer.concat(now), data.subarray(at, at + n)), 0, `bytes at ${at}+${n}`)
      assert.equal(now.map((p) => p.length), (await content.slices(at, n)).map((p) => p.length))
    }
    assert.is(await view.fileContent('/'), undefined, 'a directory has none')
    // A cache too small for the file: now() gives up where slices() reads again.
    const small = new ChunkCache(store, { maxBytes: 200_000 })
    const tight = (await (await openUnionView({ lowers: [openTree(small, root)], store: small })).fileContent('/big'))!
    assert.is(Buffer.compare(Buffer.concat(await tight.slices(0, 2_500_000)), data), 0)
    assert.is(tight.now(0, 1_048_576), undefined)
    await view.close()
  } finally { await rmrf(dir) }
})

Cache('READs of a template file answered from memory see a WRITE made between them (copy-up)', async () => {
  const dir = await tmpdir()
  try {
    const store = new MemoryChunkStore()
    const { root, data } = await importBigFile(dir, store, 44, 3_000_000)
    const cache = new ChunkCache(store)
    const layer = await openWritableLayer(join(dir, 'upper'))
    const view = await openUnionView({ lowers: [openTree(cache, root)], store: cache, writable: layer })
    const fs = viewFilesystem(view)
    const id = await fs.lookup(fs.root, 'big')
    const readAll = async (): Promise<Buffer> => {
      const parts: Uint8Array[] = []
      for (let at = 0n; ; at += 1_048_576n) {
        const r = await fs.read(id, at, 1_048_576)
        parts.push(...r.data)
        if (r.eof) return Buffer.concat(parts)
      }
    }
    assert.is(Buffer.compare(await readAll(), data), 0, 'first (cold) read')
    assert.is(Buffer.compare(await readAll(), data), 0, 'second (warm) read')
    const hits = cache.stats.hits
    assert.ok(hits > 0, 'the warm read came from memory')
    const patch = new Uint8Array(5000).fill(0xab)
    await fs.write(id, 1_048_000n, patch, 2)
    const want = Buffer.from(data); want.set(patch, 1_048_000)
    assert.is(Buffer.compare(await readAll(), want), 0, 'after the write')
    await view.close(); await layer.close()
  } finally { await rmrf(dir) }
})

Cache.run()
