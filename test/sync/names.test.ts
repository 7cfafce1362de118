import { mkdir, writeFile, cp } from 'node:fs/promises'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { CID } from 'multiformats/cid'
import { openLocalStore } from '../../src/cas/index.js'
import { encodeCar } from '../../src/sync/car.js'
import { peerHas } from '../../src/sync/client.js'
import { Peer } from '../../src/sync/http.js'
import { MEDIA, encodeMessage, packCids } from '../../src/sync/protocol.js'
import { cidForChunk } from '../../src/cas/hasher.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { runCli, startServer, type ServerProc } from './procs.js'
import { generateFiles, writeTree } from './tree-fixture.js'

interface Ctx { dir: string, server: ServerProc, pub: string, env: Record<string, string>, roots: CID[] }
const Names = suite<Ctx>('names, tokens and replication with real processes')

const W = 'acme-write-token'
const R = 'acme-read-token'

Names.before(async (ctx) => {
  ctx.dir = await tmpdir('xeno-sync-names-')
  ctx.env = { XDG_CONFIG_HOME: join(ctx.dir, 'config'), XENO_SYNC_ZSTD_LEVEL: '1' }
  const key = await runCli(['key', 'generate', '--json'], ctx.env)
  assert.is(key.code, 0, key.stderr)
  ctx.pub = key.json.publicKey
  await writeFile(join(ctx.dir, 'server.json'), JSON.stringify({
    tenants: { acme: { tokens: [{ token: W, read: ['acme'], write: ['acme'] }, { token: R, read: ['acme'], write: [] }] } },
    public: ['Debian'],
    trust: [{ key: ctx.pub, names: ['acme', 'Debian'] }]
  }))
  const store = await openLocalStore(join(ctx.dir, 'ws'))
  ctx.roots = [await writeTree(store, generateFiles(11, 2, 5, 100_000)), await writeTree(store, generateFiles(12, 2, 5, 100_000))]
  await store.pin('one', ctx.roots[0])
  await store.pin('two', ctx.roots[1])
  await store.close()
  ctx.server = await startServer(join(ctx.dir, 'srv'), ['--config', join(ctx.dir, 'server.json')])
})
Names.after(async (ctx) => { await ctx.server.stop(); await rmrf(ctx.dir) })

Names('a wrong or missing token is refused with SYNC_UNAUTHORIZED and stores nothing', async ({ dir, server, env, roots }) => {
  for (const extra of [['--token', 'not-a-real-token'], []]) {
    const r = await runCli(['push', 'one', '--to', server.url, '--store', join(dir, 'ws'), '--json', ...extra], env)
    assert.is(r.code, 1)
    assert.is(r.json.error.code, 'SYNC_PEER_REJECTED')
    assert.match(r.json.error.message, 'SYNC_UNAUTHORIZED')
  }
  const peer = new Peer(server.url, { token: R })
  assert.equal(await peerHas(peer, [roots[0]]), [false])
  peer.close()
})

Names('push --name publishes a signed name; pull follows it, template:// forms included', async ({ dir, server, env, roots }) => {
  const pushed = await runCli(['push', 'one', '--to', server.url, '--token', W, '--name', 'acme/web', '--store', join(dir, 'ws'), '--json'], env)
  assert.is(pushed.code, 0, pushed.stderr)
  assert.is(pushed.json.seq, 1)
  for (const ref of ['acme/web', 'template://acme/web', `template://acme/web@${roots[0]}`, `cas://${roots[0]}`]) {
    const pulled = await runCli(['pull', ref, '--from', server.url, '--token', R, '--store', join(dir, 'client'), '--json'], env)
    assert.is(pulled.code, 0, pulled.stderr)
    assert.is(pulled.json.root, roots[0].toString())
  }
  const resolved = await runCli(['name', 'resolve', 'acme/web', '--from', server.url, '--json'], { ...env, XENO_TOKEN: R })
  assert.is(resolved.json.root, roots[0].toString())
  assert.is(resolved.json.key, (await runCli(['name', 'resolve', 'acme/web', '--from', server.url, '--token', R, '--json'], env)).json.key)
})

Names('a read-only token cannot push, and no token writes outside its prefixes', async ({ dir, server, env }) => {
  const r = await runCli(['push', 'two', '--to', server.url, '--token', R, '--store', join(dir, 'ws'), '--json'], env)
  assert.match(r.json.error.message, 'SYNC_FORBIDDEN')
  const w = await runCli(['push', 'two', '--to', server.url, '--token', W, '--name', 'other/web', '--store', join(dir, 'ws'), '--json'], env)
  assert.match(w.json.error.message, 'SYNC_FORBIDDEN')
})

Names('a forged record and an untrusted key are refused; the name keeps its root', async ({ dir, server, env, roots }) => {
  const peer = new Peer(server.url, { token: W })
  const current = await peer.fetchJson('GET', '/v1/names/acme/web') as Record<string, unknown>
  const forged = { ...current, root: roots[1].toString(), seq: 2, prev: current.root }
  const err = await peer.fetchJson('PUT', '/v1/names/acme/web', forged).catch((e: unknown) => e) as { remoteCode?: string }
  assert.is(err.remoteCode, 'SYNC_BAD_SIGNATURE')
  peer.close()
  assert.is((await runCli(['key', 'generate', '--out', join(dir, 'other.pem'), '--no-trust'], env)).code, 0)
  assert.is((await runCli(['push', 'two', '--to', server.url, '--token', W, '--store', join(dir, 'ws')], env)).code, 0)
  const r = await runCli(['name', 'publish', 'acme/web', roots[1].toString(), '--to', server.url, '--token', W, '--key', join(dir, 'other.pem'), '--json'], env)
  assert.match(r.json.error.message, 'SYNC_UNTRUSTED_KEY')
  const resolved = await runCli(['name', 'resolve', 'acme/web', '--from', server.url, '--token', R, '--json'], env)
  assert.is(resolved.json.root, roots[0].toString())
  // A client that does not trust the signer refuses the name too.
  await writeFile(join(dir, 'empty.json'), '{}')
  const untrusting = await runCli(['pull', 'acme/web', '--from', server.url, '--token', R, '--config', join(dir, 'empty.json'), '--store', join(dir, 'c2'), '--json'], env)
  assert.is(untrusting.json.error.code, 'SYNC_UNTRUSTED_KEY')
})

Names('replicate copies a name and only missing blocks; a replica serving an older seq is a refused rollback', async ({ dir, server, env, roots }) => {
  const replica = await startServer(join(dir, 'replica'))
  try {
    const first = await runCli(['replicate', '--from', server.url, '--to', replica.url, '--from-token', R, 'acme/web', '--json'], env)
    assert.is(first.code, 0, first.stderr)
    assert.ok(first.json.names[0].blocks > 0)
    const again = await runCli(['replicate', '--from', server.url, '--to', replica.url, '--from-token', R, 'acme/web', '--json'], env)
    assert.is(again.json.names[0].blocks, 0)
    const pulled = await runCli(['pull', 'acme/web', '--from', replica.url, '--store', join(dir, 'c3'), '--json'], env)
    assert.is(pulled.json.root, roots[0].toString())
    const moved = await runCli(['name', 'publish', 'acme/web', roots[1].toString(), '--to', server.url, '--token', W, '--json'], env)
    assert.is(moved.json.seq, 2)
    assert.is((await runCli(['name', 'resolve', 'acme/web', '--from', server.url, '--token', R, '--json'], env)).json.seq, 2)
    const stale = await runCli(['pull', 'acme/web', '--from', replica.url, '--store', join(dir, 'c3'), '--json'], env)
    assert.is(stale.json.error.code, 'SYNC_NAME_ROLLBACK')
  } finally { await replica.stop() }
})

Names('truncated CAR, corrupt block and oversized requests get clear errors from a real server; nothing wrong is stored', async ({ server }) => {
  const peer = new Peer(server.url, { token: W })
  const blocks = [1, 2, 3].map((i) => { const bytes = seededBytes(500 + i, 5000); return { cid: cidForChunk(bytes), bytes } })
  const car = async (list: typeof blocks): Promise<Buffer> => { const parts: Uint8Array[] = []; for await (const p of encodeCar([], list)) parts.push(p); return Buffer.concat(parts) }
  const put = async (body: Uint8Array): Promise<any> => await peer.fetchBytes('PUT', '/v1/blocks', { body, contentType: MEDIA.car }).catch((e) => e)
  const full = await car(blocks)
  assert.is((await put(full.subarray(0, full.length - 100))).remoteCode, 'SYNC_CAR_TRUNCATED')
  assert.equal(await peerHas(peer, blocks.map((b) => b.cid)), [true, true, false])
  const corrupt = await car([{ cid: blocks[2].cid, bytes: blocks[0].bytes }])
  assert.is((await put(corrupt)).remoteCode, 'SYNC_BAD_BLOCK')
  assert.equal(await peerHas(peer, [blocks[2].cid]), [false])
  const tooMany = Array.from({ length: 70_000 }, () => blocks[0].cid)
  const big = await peer.fetchBytes('POST', '/v1/has', { body: encodeMessage({ v: 1, cids: packCids(tooMany) }), contentType: MEDIA.msgpack }).catch((e) => e)
  assert.is(big.status, 413)
  assert.is(big.remoteCode, 'SYNC_TOO_LARGE')
  const garbage = await put(Buffer.from([0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]))
  assert.is(garbage.remoteCode, 'SYNC_BAD_CAR')
  peer.close()
})

Names('overlay push sends only what the overlay adds over a base the store holds', async ({ dir, server, env }) => {
  const base = join(dir, 'tree-base')
  await mkdir(join(base, 'etc'), { recursive: true })
  for (let i = 0; i < 20; i++) await writeFile(join(base, 'etc', `f${i}`), seededBytes(900 + i, 50_000))
  const imported = await runCli(['template', 'import', base, '--name', 'base', '--store', join(dir, 'ws'), '--json'], env)
  assert.is(imported.code, 0, imported.stderr)
  assert.is((await runCli(['push', 'base', '--to', server.url, '--token', W, '--store', join(dir, 'ws')], env)).code, 0)
  const changed = join(dir, 'tree-changed')
  await cp(base, changed, { recursive: true, preserveTimestamps: true })
  await writeFile(join(changed, 'etc', 'new.conf'), 'listen 80\n')
  const r = await runCli(['overlay', 'push', changed, '--base', 'base', '--to', server.url, '--token', W, '--name', 'acme/overlay', '--store', join(dir, 'ws'), '--json'], env)
  assert.is(r.code, 0, r.stderr)
  assert.ok(r.json.blocks <= 4, `blocks ${r.json.blocks}`)
  assert.ok(r.json.requests <= 5, `requests ${r.json.requests}`)
  assert.is(r.json.name, 'acme/overlay')
})

Names('a store without a tenant config refuses to listen beyond loopback', async ({ dir, env }) => {
  const r = await runCli(['store', 'serve', '--listen', '0.0.0.0:0', '--data', join(dir, 'open'), '--json'], env)
  assert.is(r.code, 1)
  assert.is(r.json.error.code, 'SYNC_BAD_CONFIG')
})

Names.run()
