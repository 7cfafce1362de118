import { generateKeyPairSync } from 'node:crypto'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { FastifyInstance } from 'fastify'
import type { CID } from 'multiformats/cid'
import { cidForChunk } from '../../src/cas/hasher.js'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { encodeCar, type Block } from '../../src/sync/car.js'
import type { SyncConfig } from '../../src/sync/config.js'
import { publicKeyString, signRecord } from '../../src/sync/names.js'
import { bitAt, decodeMessage, encodeMessage, MEDIA, packCids, type HasResponse } from '../../src/sync/protocol.js'
import { buildSyncApp } from '../../src/sync/server.js'
import { walkTree } from '../../src/sync/walk.js'
import { seededBytes } from '../helpers/bytes.js'
import { generateFiles, writeTree } from './tree-fixture.js'

async function carBytes (blocks: Block[], roots: CID[] = []): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of encodeCar(roots, blocks)) parts.push(p)
  return Buffer.concat(parts)
}

function blocksOf (n: number, seed = 1): Block[] {
  return Array.from({ length: n }, (_v, i) => { const bytes = seededBytes(seed * 1000 + i, 1000 + i); return { cid: cidForChunk(bytes), bytes } })
}

const json = (res: { body: string }): any => JSON.parse(res.body)

async function has (app: FastifyInstance, cids: CID[], token?: string): Promise<boolean[]> {
  const res = await app.inject({ method: 'POST', url: '/v1/has', headers: { 'content-type': MEDIA.msgpack, ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) }, payload: Buffer.from(encodeMessage({ v: 1, cids: packCids(cids) })) })
  assert.is(res.statusCode, 200, res.body)
  const answer = decodeMessage<HasResponse>(res.rawPayload)
  return cids.map((_c, i) => bitAt(answer.have, i))
}

async function upload (app: FastifyInstance, body: Buffer, token?: string): Promise<{ statusCode: number, body: string, rawPayload: Buffer }> {
  return await app.inject({ method: 'PUT', url: '/v1/blocks', headers: { 'content-type': MEDIA.car, ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) }, payload: body })
}

const Open = suite('XenoStore routes (open server)')

Open('health answers without auth', async () => {
  const app = buildSyncApp(new MemoryChunkStore())
  const res = await app.inject({ method: 'GET', url: '/v1/health' })
  assert.equal(json(res), { ok: true, version: 1, open: true })
})

Open('has answers thousands of CIDs with one bitmap', async () => {
  const store = new MemoryChunkStore()
  const blocks = blocksOf(3000)
  for (const b of blocks.filter((_b, i) => i % 3 === 0)) await store.put(b.cid, b.bytes)
  const flags = await has(buildSyncApp(store), blocks.map((b) => b.cid))
  assert.equal(flags, blocks.map((_b, i) => i % 3 === 0))
})

Open('has over the CID limit and oversized bodies are refused with 413', async () => {
  const app = buildSyncApp(new MemoryChunkStore(), { config: { limits: { maxCidsPerRequest: 10, maxMessageBytes: 2000 } } })
  const cids = blocksOf(11).map((b) => b.cid)
  let res = await app.inject({ method: 'POST', url: '/v1/has', headers: { 'content-type': MEDIA.msgpack }, payload: Buffer.from(encodeMessage({ v: 1, cids: packCids(cids) })) })
  assert.is(res.statusCode, 413)
  assert.is(json(res).error.code, 'SYNC_TOO_LARGE')
  res = await app.inject({ method: 'POST', url: '/v1/has', headers: { 'content-type': MEDIA.msgpack }, payload: Buffer.alloc(5000) })
  assert.is(res.statusCode, 413)
  assert.is(json(res).error.code, 'SYNC_TOO_LARGE')
})

Open('garbage has body is a 400', async () => {
  const res = await buildSyncApp(new MemoryChunkStore()).inject({ method: 'POST', url: '/v1/has', headers: { 'content-type': MEDIA.msgpack }, payload: Buffer.from([0xc1, 0xff]) })
  assert.is(res.statusCode, 400)
  assert.is(json(res).error.code, 'SYNC_BAD_REQUEST')
})

Open('upload stores every verified block; a corrupt block is refused and never stored, the ones before it are kept', async () => {
  const store = new MemoryChunkStore()
  const app = buildSyncApp(store)
  const blocks = blocksOf(6)
  const bad = { cid: blocks[3].cid, bytes: blocks[4].bytes }
  const res = await upload(app, await carBytes([blocks[0], blocks[1], blocks[2], bad, blocks[5]]))
  assert.is(res.statusCode, 422)
  assert.is(json(res).error.code, 'SYNC_BAD_BLOCK')
  assert.equal(await has(app, blocks.map((b) => b.cid)), [true, true, true, false, false, false])
  const ok = await upload(app, await carBytes(blocks))
  assert.is(ok.statusCode, 200)
  assert.equal(decodeMessage<any>(ok.rawPayload), { v: 1, blocks: 6, stored: 3, bytes: blocks.reduce((n, b) => n + b.bytes.length, 0) })
})

Open('a truncated CAR keeps the complete blocks and reports SYNC_CAR_TRUNCATED', async () => {
  const store = new MemoryChunkStore()
  const app = buildSyncApp(store)
  const blocks = blocksOf(4)
  const full = await carBytes(blocks)
  const res = await upload(app, full.subarray(0, full.length - 500))
  assert.is(res.statusCode, 400)
  assert.is(json(res).error.code, 'SYNC_CAR_TRUNCATED')
  assert.equal(await has(app, blocks.map((b) => b.cid)), [true, true, true, false])
  assert.is(store.size, 3)
})

Open('an oversized block section is refused with 413', async () => {
  const app = buildSyncApp(new MemoryChunkStore(), { config: { limits: { maxBlockBytes: 1024 } } })
  const res = await upload(app, await carBytes(blocksOf(2, 9).map((b) => ({ cid: b.cid, bytes: new Uint8Array(5000) }))))
  assert.is(res.statusCode, 413)
})

Open('want answers one CAR with the blocks it has, in order; single blocks by GET', async () => {
  const store = new MemoryChunkStore()
  const blocks = blocksOf(5)
  for (const b of blocks.slice(0, 4)) await store.put(b.cid, b.bytes)
  const app = buildSyncApp(store)
  const res = await app.inject({ method: 'POST', url: '/v1/want', headers: { 'content-type': MEDIA.msgpack }, payload: Buffer.from(encodeMessage({ v: 1, cids: packCids(blocks.map((b) => b.cid)) })) })
  assert.is(res.statusCode, 200)
  assert.is(res.headers['content-type'], MEDIA.car)
  assert.equal(res.rawPayload, await carBytes(blocks.slice(0, 4)))
  const one = await app.inject({ method: 'GET', url: `/v1/blocks/${blocks[1].cid}` })
  assert.equal(new Uint8Array(one.rawPayload), blocks[1].bytes)
  const none = await app.inject({ method: 'GET', url: `/v1/blocks/${blocks[4].cid}` })
  assert.is(none.statusCode, 404)
  assert.is(json(none).error.code, 'SYNC_NOT_FOUND')
})

Open('a block that fails verification on read is never served', async () => {
  const store = new MemoryChunkStore()
  const blocks = blocksOf(3)
  for (const b of blocks) await store.put(b.cid, b.bytes)
  const bad = blocks[1].cid.toString()
  const { ChunkInvalidError } = await import('../../src/cas/errors.js')
  const get = store.get.bind(store)
  store.get = async (cid, options) => { if (cid.toString() === bad) throw new ChunkInvalidError(cid); return await get(cid, options) }
  const app = buildSyncApp(store)
  const res = await app.inject({ method: 'POST', url: '/v1/want', headers: { 'content-type': MEDIA.msgpack }, payload: Buffer.from(encodeMessage({ v: 1, cids: packCids(blocks.map((b) => b.cid)) })) })
  assert.equal(res.rawPayload, await carBytes([blocks[0], blocks[2]]))
  const one = await app.inject({ method: 'GET', url: `/v1/blocks/${bad}` })
  assert.is(one.statusCode, 422)
  assert.is(json(one).error.code, 'CAS_CHUNK_INVALID')
})

Open('want of a root answers its tree nodes only, minus the nodes of a base tree', async () => {
  const store = new MemoryChunkStore()
  const files = generateFiles(5, 3, 5, 150_000)
  const base = await writeTree(store, files)
  files.set('d2/extra', seededBytes(77, 1000))
  const root = await writeTree(store, files)
  const app = buildSyncApp(store)
  const ask = async (body: object): Promise<number> => {
    const res = await app.inject({ method: 'POST', url: '/v1/want', headers: { 'content-type': MEDIA.msgpack }, payload: Buffer.from(encodeMessage({ v: 1, ...body })) })
    const { decodeCar } = await import('../../src/sync/car.js')
    let n = 0
    for await (const b of decodeCar((async function * () { yield res.rawPayload })())) { assert.is.not(b.cid.code, 0x55); n++ }
    return n
  }
  let nodes = 0
  for await (const c of walkTree(store, root)) if (c.code !== 0x55) nodes++
  assert.is(await ask({ root: root.bytes }), nodes)
  assert.is(await ask({ root: root.bytes, base: base.bytes }), 3) // root, top dir, d2
})

Open.run()

// ---------------------------------------------------------------------------------------------

const { privateKey: trustedKey } = generateKeyPairSync('ed25519')
const { privateKey: otherKey } = generateKeyPairSync('ed25519')
const CONFIG: SyncConfig = {
  tenants: {
    acme: { tokens: [{ token: 'acme-write-token', read: ['acme'], write: ['acme'] }, { token: 'acme-read-token', read: ['acme'], write: [] }] },
    beta: { tokens: [{ token: 'beta-write-token', read: ['beta'], write: ['beta', 'Debian'] }] }
  },
  public: ['Debian'],
  trust: [{ key: publicKeyString(trustedKey), names: ['acme', 'beta', 'Debian'] }]
}

const Tenants = suite('XenoStore tenants and names')

Tenants('a missing or wrong token is a 401', async () => {
  const app = buildSyncApp(new MemoryChunkStore(), { config: CONFIG })
  for (const headers of [{}, { authorization: 'Bearer nope-nope-nope' }]) {
    const res = await app.inject({ method: 'POST', url: '/v1/has', headers: { 'content-type': MEDIA.msgpack, ...headers }, payload: Buffer.from(encodeMessage({ v: 1, cids: new Uint8Array() })) })
    assert.is(res.statusCode, 401)
    assert.is(json(res).error.code, 'SYNC_UNAUTHORIZED')
  }
})

Tenants('has never reveals another tenant\'s blocks; uploading them (verified) grants ownership', async () => {
  const store = new MemoryChunkStore()
  const app = buildSyncApp(store, { config: CONFIG })
  const blocks = blocksOf(4)
  assert.is((await upload(app, await carBytes(blocks), 'acme-write-token')).statusCode, 200)
  assert.equal(await has(app, blocks.map((b) => b.cid), 'acme-read-token'), [true, true, true, true])
  assert.equal(await has(app, blocks.map((b) => b.cid), 'beta-write-token'), [false, false, false, false])
  const get = await app.inject({ method: 'GET', url: `/v1/blocks/${blocks[0].cid}`, headers: { authorization: 'Bearer beta-write-token' } })
  assert.is(get.statusCode, 404)
  const forged = await upload(app, await carBytes([{ cid: blocks[0].cid, bytes: new Uint8Array(10) }]), 'beta-write-token')
  assert.is(forged.statusCode, 422)
  assert.equal(await has(app, [blocks[0].cid], 'beta-write-token'), [false])
  const res = await upload(app, await carBytes(blocks.slice(0, 2)), 'beta-write-token')
  assert.equal(decodeMessage<any>(res.rawPayload).stored, 0)
  assert.equal(await has(app, blocks.map((b) => b.cid), 'beta-write-token'), [true, true, false, false])
  assert.is(store.size, 4)
})

Tenants('a read-only token cannot upload', async () => {
  const app = buildSyncApp(new MemoryChunkStore(), { config: CONFIG })
  const res = await upload(app, await carBytes(blocksOf(1)), 'acme-read-token')
  assert.is(res.statusCode, 403)
  assert.is(json(res).error.code, 'SYNC_FORBIDDEN')
})

async function putName (app: FastifyInstance, record: object, token: string): Promise<{ statusCode: number, body: string }> {
  const name = (record as { name: string }).name
  return await app.inject({ method: 'PUT', url: `/v1/names/${name}`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(record) })
}

async function pushTree (app: FastifyInstance, store: MemoryChunkStore, root: CID, token: string): Promise<void> {
  const blocks: Block[] = []
  for await (const cid of walkTree(store, root)) blocks.push({ cid, bytes: (await store.get(cid))! })
  assert.is((await upload(app, await carBytes(blocks), token)).statusCode, 200)
}

Tenants('publish: needs the whole tree, a trusted key, a good signature and a rising seq', async () => {
  const app = buildSyncApp(new MemoryChunkStore(), { config: CONFIG })
  const local = new MemoryChunkStore()
  const root = await writeTree(local, generateFiles(6, 2, 3, 50_000))
  const rec1 = signRecord({ name: 'acme/web', root, seq: 1, prev: null }, trustedKey)
  let res = await putName(app, rec1, 'acme-write-token')
  assert.is(res.statusCode, 409)
  assert.is(json(res).error.code, 'SYNC_INCOMPLETE_TREE')
  await pushTree(app, local, root, 'acme-write-token')
  res = await putName(app, { ...rec1, seq: 2 }, 'acme-write-token')
  assert.is(json(res).error.code, 'SYNC_BAD_SIGNATURE')
  res = await putName(app, signRecord({ name: 'acme/web', root, seq: 1, prev: null }, otherKey), 'acme-write-token')
  assert.is(json(res).error.code, 'SYNC_UNTRUSTED_KEY')
  res = await putName(app, rec1, 'beta-write-token')
  assert.is(json(res).error.code, 'SYNC_FORBIDDEN')
  res = await putName(app, rec1, 'acme-write-token')
  assert.is(res.statusCode, 200, res.body)
  const root2 = await writeTree(local, generateFiles(7, 1, 2, 10_000))
  await pushTree(app, local, root2, 'acme-write-token')
  assert.is((await putName(app, signRecord({ name: 'acme/web', root: root2, seq: 2, prev: root }, trustedKey), 'acme-write-token')).statusCode, 200)
  res = await putName(app, signRecord({ name: 'acme/web', root, seq: 1, prev: null }, trustedKey), 'acme-write-token')
  assert.is(res.statusCode, 409)
  assert.is(json(res).error.code, 'SYNC_NAME_ROLLBACK')
  const got = await app.inject({ method: 'GET', url: '/v1/names/acme/web', headers: { authorization: 'Bearer acme-read-token' } })
  assert.is(json(got).root, root2.toString())
  const hidden = await app.inject({ method: 'GET', url: '/v1/names/acme/web', headers: { authorization: 'Bearer beta-write-token' } })
  assert.is(hidden.statusCode, 403)
})

Tenants('a public template is readable by every tenant, blocks included', async () => {
  const app = buildSyncApp(new MemoryChunkStore(), { config: CONFIG })
  const local = new MemoryChunkStore()
  const root = await writeTree(local, generateFiles(8, 2, 3, 50_000))
  await pushTree(app, local, root, 'beta-write-token')
  const all: CID[] = []
  for await (const c of walkTree(local, root)) all.push(c)
  assert.ok((await has(app, all, 'acme-read-token')).every((f) => !f))
  assert.is((await putName(app, signRecord({ name: 'Debian/12/current', root, seq: 1, prev: null }, trustedKey), 'beta-write-token')).statusCode, 200)
  assert.ok((await has(app, all, 'acme-read-token')).every((f) => f))
  const got = await app.inject({ method: 'GET', url: '/v1/names/Debian/12/current', headers: { authorization: 'Bearer acme-read-token' } })
  assert.is(json(got).root, root.toString())
})

Tenants.run()
