import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { FastifyInstance } from 'fastify'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { push } from '../../src/sync/client.js'
import { pull } from '../../src/sync/pull.js'
import { Peer } from '../../src/sync/http.js'
import { ROUTES } from '../../src/sync/protocol.js'
import { DEFAULT_ZSTD_LEVEL, WAN_LATENCY_MS } from '../../src/sync/zstd-stream.js'
import { RemoteChunkReader } from '../../src/sync/remote.js'
import { ReadThroughStore } from '../../src/sync/read-through.js'
import { AnswerCache } from '../../src/sync/answer-cache.js'
import { DeltaCache } from '../../src/sync/delta-cache.js'
import { buildSyncApp } from '../../src/sync/server.js'
import { walkTree } from '../../src/sync/walk.js'
import { CID } from 'multiformats/cid'
import { rejects } from '../helpers/assert.js'
import { seededBytes } from '../helpers/bytes.js'
import { generateFiles, writeTree } from './tree-fixture.js'

// Fast transfers in tests; the delta test below runs the default level (long-distance matching).
process.env.XENO_SYNC_ZSTD_LEVEL = '1'

interface Ctx { server: MemoryChunkStore, app: FastifyInstance, url: string }
const Sync = suite<Ctx>('push and pull over HTTP')

Sync.before.each(async (ctx) => {
  ctx.server = new MemoryChunkStore()
  ctx.app = buildSyncApp(ctx.server)
  ctx.url = await ctx.app.listen({ host: '127.0.0.1', port: 0 })
})
Sync.after.each(async (ctx) => { await ctx.app.close() })

async function sameBlocks (a: MemoryChunkStore, b: MemoryChunkStore, root: import('multiformats/cid').CID): Promise<number> {
  let n = 0
  for await (const cid of walkTree(a, root)) {
    const x = await a.get(cid)
    const y = await b.get(cid)
    assert.ok(x !== undefined && y !== undefined && Buffer.compare(x, y) === 0, `block ${cid}`)
    n++
  }
  return n
}

Sync('push sends every block once; a second push sends nothing', async ({ server, url }) => {
  const local = new MemoryChunkStore()
  const root = await writeTree(local, generateFiles(1, 4, 8, 300_000))
  const peer = new Peer(url)
  const first = await push(local, root, peer)
  assert.is(first.blocks, local.size)
  assert.ok(first.requests <= 3, `requests ${first.requests}`)
  assert.is(await sameBlocks(local, server, root), local.size)
  const second = await push(local, root, peer)
  assert.is(second.blocks, 0)
  assert.is(second.present, local.size)
  assert.is(second.requests, 1)
  peer.close()
})

/** An HTTP proxy on loopback to `target` that holds each answer to a `has` request back `delayMs` (a store still warming up). */
async function slowHasProxy (target: string, delayMs: number): Promise<{ url: string, close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const up = http.request(new URL(req.url!, target), { method: req.method, headers: req.headers }, (answer) => {
      const send = (): void => { res.writeHead(answer.statusCode!, answer.headers); answer.pipe(res) }
      if (req.url!.endsWith(ROUTES.has)) setTimeout(send, delayMs); else send()
    })
    req.pipe(up)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, close: async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) } }
}

Sync('a push on loopback compresses at the LAN level even when the store answers its first has requests slowly', async ({ server, url }) => {
  const local = new MemoryChunkStore()
  const root = await writeTree(local, generateFiles(11, 2, 4, 100_000))
  const proxy = await slowHasProxy(url, WAN_LATENCY_MS * 2)
  const peer = new Peer(proxy.url)
  process.env.XENO_SYNC_ZSTD_LEVEL = '' // the level chosen by the link
  try {
    const r = await push(local, root, peer)
    assert.is(r.blocks, local.size)
    assert.is(r.zstdLevel, DEFAULT_ZSTD_LEVEL)
    assert.is(await sameBlocks(local, server, root), local.size)
  } finally {
    process.env.XENO_SYNC_ZSTD_LEVEL = '1'
    peer.close()
    await proxy.close()
  }
})

Sync('pull fetches a whole tree byte-exact in few requests', async ({ server, url }) => {
  const root = await writeTree(server, generateFiles(2, 5, 10, 200_000))
  const local = new MemoryChunkStore()
  const peer = new Peer(url)
  const r = await pull(local, root, peer)
  assert.is(await sameBlocks(server, local, root), server.size)
  assert.is(r.blocks, server.size)
  assert.ok(r.requests <= 3, `requests ${r.requests}`)
  assert.ok(r.wireBytes > r.blockBytes)
  const again = await pull(local, root, peer)
  assert.is(again.blocks, 0)
  assert.is(again.requests, 0)
  peer.close()
})

Sync('pull of a changed tree fetches only the changed chunks', async ({ server, url }) => {
  const files = generateFiles(3, 4, 10, 200_000)
  const oldRoot = await writeTree(server, files)
  const local = new MemoryChunkStore()
  const peer = new Peer(url)
  await pull(local, oldRoot, peer)
  const before = local.size
  files.set('d1/new', new Uint8Array(100_000).fill(7))
  const newRoot = await writeTree(server, files)
  const r = await pull(local, newRoot, peer, { base: oldRoot })
  // new file chunk(s) + file index? + d1 node + top dir + root
  assert.is(r.blocks, local.size - before)
  assert.ok(r.blocks <= 6, `blocks ${r.blocks}`)
  assert.ok(r.requests <= 2, `requests ${r.requests}`)
  await sameBlocks(server, local, newRoot)
  peer.close()
})

Sync('pull --base sends a changed file as a delta against its old version', async ({ server, url }) => {
  const files = generateFiles(9, 2, 4, 100_000)
  const big = new Uint8Array(seededBytes(123, 900_000))
  files.set('d0/big', big)
  files.set('d1/libfoo.so.1.1', big.slice(0, 400_000).reverse())
  const oldRoot = await writeTree(server, files)
  const local = new MemoryChunkStore()
  const peer = new Peer(url)
  await pull(local, oldRoot, peer)
  const changed = big.slice()
  for (let i = 450_000; i < 450_200; i++) changed[i] ^= 0x5a
  files.set('d0/big', changed)
  // an upgrade that moves a file to a new versioned path: still a delta against the old one
  files.delete('d0/f1')
  files.delete('d1/libfoo.so.1.1')
  const lib = big.slice(0, 400_000).reverse()
  lib[1000] ^= 1
  files.set('d1/libfoo.so.1.2', lib)
  const newRoot = await writeTree(server, files)
  const lacking: string[] = []
  for await (const c of walkTree(server, newRoot)) if (!await local.has(c) && c.code === 0x55) lacking.push(c.toString())
  let lackingBytes = 0
  for (const k of lacking) lackingBytes += (await server.get(CID.parse(k)))!.length
  process.env.XENO_SYNC_ZSTD_LEVEL = ''
  const r = await pull(local, newRoot, peer, { base: oldRoot }).finally(() => { process.env.XENO_SYNC_ZSTD_LEVEL = '1' })
  await sameBlocks(server, local, newRoot)
  assert.ok(lacking.length >= 1)
  assert.ok(r.blockBytes < lackingBytes / 10, `delta ${r.blockBytes} vs ${lackingBytes} bytes of new chunks`)
  peer.close()
})

Sync('a second client\'s update comes from the delta cache; a base file that starts like a zstd dictionary still goes as a delta', async () => {
  const server = new MemoryChunkStore()
  const deltas = new DeltaCache()
  const app = buildSyncApp(server, { deltaCache: deltas, answerCache: new AnswerCache(0) }) // the deltas alone
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  try {
    const files = generateFiles(12, 2, 3, 50_000)
    const dict = Buffer.concat([Buffer.from([0x37, 0xa4, 0x30, 0xec]), seededBytes(77, 600_000)])
    files.set('d0/zstd.dict', dict)
    const oldRoot = await writeTree(server, files)
    const changed = Buffer.from(dict)
    for (let i = 300_000; i < 300_100; i++) changed[i] ^= 1
    files.set('d0/zstd.dict', changed)
    const newRoot = await writeTree(server, files)
    const updates: Array<{ blockBytes: number }> = []
    let missesAfterFirst = 0
    for (let client = 0; client < 2; client++) {
      const local = new MemoryChunkStore()
      const peer = new Peer(url)
      await pull(local, oldRoot, peer)
      process.env.XENO_SYNC_ZSTD_LEVEL = '' // deltas at the default level
      updates.push(await pull(local, newRoot, peer, { base: oldRoot }).finally(() => { process.env.XENO_SYNC_ZSTD_LEVEL = '1' }))
      assert.ok(await sameBlocks(server, local, newRoot) > 0)
      peer.close()
      if (client === 0) missesAfterFirst = deltas.misses
    }
    assert.ok(updates[0].blockBytes < 60_000, `the changed file went as a delta: ${updates[0].blockBytes} B`)
    assert.is(updates[1].blockBytes, updates[0].blockBytes)
    assert.ok(deltas.hits >= 1, 'the second update was answered from the cache')
    assert.is(deltas.misses, missesAfterFirst, 'nothing was computed again')
  } finally { await app.close() }
})

Sync('like clients are answered from the answer cache; an incomplete answer is not kept', async () => {
  const server = new MemoryChunkStore()
  const answers = new AnswerCache()
  const app = buildSyncApp(server, { answerCache: answers })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  try {
    const files = generateFiles(13, 2, 4, 120_000)
    const root = await writeTree(server, files)
    const first = new MemoryChunkStore()
    const peer = new Peer(url)
    const a = await pull(first, root, peer)
    assert.is(answers.hits, 0)
    assert.ok(answers.bytes > 0, 'the answers were kept')
    const second = new MemoryChunkStore()
    const b = await pull(second, root, peer)
    assert.ok(answers.hits >= 2, `hits ${answers.hits}`) // the nodes, then the chunks
    assert.is(b.blocks, a.blocks)
    assert.is(await sameBlocks(server, second, root), server.size)
    // A chunk the store lacks: the answer goes without it and is not kept; once the store has it, the same request gets it.
    const full = new MemoryChunkStore()
    const root2 = await writeTree(full, new Map([...files, ['d0/extra', seededBytes(14, 90_000)]]))
    let held: CID | undefined
    for (const k of full.keys()) {
      const cid = CID.parse(k)
      if (held === undefined && cid.code === 0x55 && !await server.has(cid)) { held = cid; continue }
      await server.put(cid, (await full.get(cid))!)
    }
    assert.ok(held !== undefined)
    const third = new MemoryChunkStore()
    await rejects(pull(third, root2, peer), 'SYNC_INCOMPLETE')
    const hits = answers.hits
    await server.put(held, (await full.get(held))!)
    const fourth = new MemoryChunkStore() // asks exactly what the third asked
    await pull(fourth, root2, peer)
    assert.is(answers.hits, hits + 1, 'the nodes came from the cache, the chunks (incomplete before) did not')
    assert.is(await sameBlocks(full, fourth, root2), full.size)
    peer.close()
  } finally { await app.close() }
})

Sync('pull resumes: blocks already local are not fetched again', async ({ server, url }) => {
  const root = await writeTree(server, generateFiles(4, 3, 10, 200_000))
  const local = new MemoryChunkStore()
  const half = [...server.keys()].slice(0, Math.floor(server.size / 2))
  for (const k of half) { const c = CID.parse(k); await local.put(c, (await server.get(c))!) }
  const peer = new Peer(url)
  const r = await pull(local, root, peer)
  const nodes = [...server.keys()].filter((k) => CID.parse(k).code !== 0x55).length
  // Raw chunks already local never move again; tree nodes may, when the root itself was absent.
  assert.ok(r.blocks >= server.size - half.length && r.blocks <= server.size - half.length + nodes, `blocks ${r.blocks}`)
  await sameBlocks(server, local, root)
  peer.close()
})

Sync('RemoteChunkReader reads single blocks verified, shares concurrent fetches, and batches', async ({ server, url }) => {
  const root = await writeTree(server, generateFiles(10, 1, 3, 50_000))
  const peer = new Peer(url)
  const remote = new RemoteChunkReader(peer)
  const [a, b] = await Promise.all([remote.get(root), remote.get(root)])
  assert.ok(a !== undefined && b !== undefined && Buffer.compare(a, await server.get(root) as Uint8Array) === 0)
  assert.is(peer.stats.requests, 1)
  assert.is(await remote.get(CID.parse('bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4')), undefined)
  const all: CID[] = []
  for await (const c of walkTree(server, root)) all.push(c)
  let n = 0
  for await (const _b of remote.getMany(all)) n++
  assert.is(n, all.length)
  peer.close()
})

Sync('a read-through cache server fetches from upstream once and serves later pulls itself', async ({ server, url }) => {
  const root = await writeTree(server, generateFiles(11, 3, 6, 100_000))
  const upstream = new Peer(url)
  const cacheStore = new MemoryChunkStore()
  const cache = buildSyncApp(new ReadThroughStore(cacheStore, new RemoteChunkReader(upstream)))
  const cacheUrl = await cache.listen({ host: '127.0.0.1', port: 0 })
  try {
    const first = new MemoryChunkStore()
    await pull(first, root, new Peer(cacheUrl))
    await sameBlocks(server, first, root)
    await sameBlocks(server, cacheStore, root)
    const used = upstream.stats.requests
    const second = new MemoryChunkStore()
    await pull(second, root, new Peer(cacheUrl))
    await sameBlocks(server, second, root)
    assert.is(upstream.stats.requests, used, 'the second pull never reached upstream')
  } finally { await cache.close(); upstream.close() }
})

Sync.run()
