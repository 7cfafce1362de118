import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { CID } from 'multiformats/cid'
import { openLocalStore } from '../../src/cas/index.js'
import { peerHas } from '../../src/sync/client.js'
import { Peer } from '../../src/sync/http.js'
import { walkTree } from '../../src/sync/walk.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { runCli, startCli, startServer, stallProxy } from './procs.js'
import { generateFiles, writeTree } from './tree-fixture.js'

interface Ctx { dir: string }
const It = suite<Ctx>('sync with real server processes')
It.before.each(async (ctx) => { ctx.dir = await tmpdir('xeno-sync-it-') })
It.after.each(async (ctx) => { await rmrf(ctx.dir) })

/** A generated tree of about `mib` MiB in a new local store at `dir`, pinned as "tree". */
async function makeStore (dir: string, seed: number, mib: number): Promise<{ root: CID, cids: CID[] }> {
  const store = await openLocalStore(dir)
  const perDir = Math.max(1, Math.round(mib * 1024 * 1024 / 4 / 150_000))
  const root = await writeTree(store, generateFiles(seed, 4, perDir, 300_000))
  await store.pin('tree', root)
  const cids: CID[] = []
  for await (const c of walkTree(store, root)) cids.push(c)
  await store.close()
  return { root, cids }
}

/** Asserts that store `b` holds every block of `root` with the same bytes as store `a`. */
async function assertSameTree (a: string, b: string, root: CID): Promise<void> {
  const sa = await openLocalStore(a)
  const sb = await openLocalStore(b)
  try {
    for await (const cid of walkTree(sa, root)) {
      const x = await sa.get(cid)
      const y = await sb.get(cid)
      assert.ok(x !== undefined && y !== undefined && Buffer.compare(x, y) === 0, `block ${cid} differs`)
    }
  } finally { await sa.close(); await sb.close() }
}

async function presentOn (url: string, cids: CID[], token?: string): Promise<number> {
  const peer = new Peer(url, { token })
  try { return (await peerHas(peer, cids)).filter(Boolean).length } finally { peer.close() }
}

/**
 * The count of `cids` on the server once it stops changing: after a client dies the server may
 * still be storing the part of the upload it had already received.
 */
async function settledPresentOn (url: string, cids: CID[]): Promise<number> {
  let last = -1
  let same = 0
  for (let i = 0; i < 200 && same < 3; i++) {
    const now = await presentOn(url, cids)
    same = now === last ? same + 1 : 0
    last = now
    await sleep(150)
  }
  return last
}

async function waitFor (check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) { if (await check()) return; await sleep(20) }
  throw new Error('condition not reached')
}

const env = (dir: string): Record<string, string> => ({ XDG_CONFIG_HOME: join(dir, 'config'), XENO_SYNC_ZSTD_LEVEL: '1' })

It('push then pull moves a tree byte-exact; --json reports root, bytes and requests', async ({ dir }) => {
  const { root, cids } = await makeStore(join(dir, 'a'), 1, 4)
  const server = await startServer(join(dir, 'srv'))
  try {
    const pushed = await runCli(['push', 'tree', '--to', server.url, '--store', join(dir, 'a'), '--json'], env(dir))
    assert.is(pushed.code, 0, pushed.stderr)
    assert.is(pushed.json.root, root.toString())
    assert.is(pushed.json.blocks, cids.length)
    assert.ok(pushed.json.requests <= 3 && pushed.json.bytes > 0)
    const pulled = await runCli(['pull', `cas://${root}`, '--from', server.url, '--store', join(dir, 'b'), '--json'], env(dir))
    assert.is(pulled.code, 0, pulled.stderr)
    assert.is(pulled.json.root, root.toString())
    assert.is(pulled.json.blocks, cids.length)
    assert.ok(pulled.json.requests <= 3, `requests ${pulled.json.requests}`)
    assert.ok(pulled.json.bytes > pulled.json.blockBytes)
    await assertSameTree(join(dir, 'a'), join(dir, 'b'), root)
    const pulledStore = await openLocalStore(join(dir, 'b'))
    const stats = await pulledStore.stats({ frames: true })
    await pulledStore.close()
    assert.ok(stats.framedChunks > stats.chunks / 2, `received blocks are stored in frames (${stats.framedChunks} of ${stats.chunks})`)
    const again = await runCli(['push', 'tree', '--to', server.url, '--store', join(dir, 'a'), '--json'], env(dir))
    assert.is(again.json.blocks, 0)
    assert.is(again.json.requests, 1)
  } finally { await server.stop() }
})

It('a push whose client is killed mid-transfer resumes: only the rest moves', async ({ dir }) => {
  const { root, cids } = await makeStore(join(dir, 'a'), 2, 24)
  const server = await startServer(join(dir, 'srv'))
  const proxy = await stallProxy(server.port, 'up', 10 * 1024 * 1024)
  try {
    const run = startCli(['push', 'tree', '--to', proxy.url, '--store', join(dir, 'a')], env(dir))
    await proxy.reached
    await waitFor(async () => await presentOn(server.url, cids) > 0)
    run.child.kill('SIGKILL')
    await run.done
    proxy.close()
    const kept = await settledPresentOn(server.url, cids)
    assert.ok(kept > 0 && kept < cids.length, `kept ${kept}`)
    const again = await runCli(['push', 'tree', '--to', server.url, '--store', join(dir, 'a'), '--json'], env(dir))
    assert.is(again.code, 0, again.stderr)
    assert.is(again.json.present, kept)
    assert.is(again.json.blocks, cids.length - kept)
    const pulled = await runCli(['pull', root.toString(), '--from', server.url, '--store', join(dir, 'b'), '--json'], env(dir))
    assert.is(pulled.code, 0, pulled.stderr)
    await assertSameTree(join(dir, 'a'), join(dir, 'b'), root)
  } finally { proxy.close(); await server.stop() }
})

It('a push whose server is killed mid-transfer resumes against the restarted server', async ({ dir }) => {
  const { root, cids } = await makeStore(join(dir, 'a'), 3, 24)
  let server = await startServer(join(dir, 'srv'))
  const proxy = await stallProxy(server.port, 'up', 16 * 1024 * 1024)
  try {
    const run = startCli(['push', 'tree', '--to', proxy.url, '--store', join(dir, 'a'), '--json'], env(dir))
    await proxy.reached
    // Everything the proxy let through (16 MiB) has arrived: past the upload's first durable
    // point (every 8 MiB). Blocks after it sit in the store's write-behind buffer, which has()
    // already sees, so "more than half present" could still be nothing durable.
    await settledPresentOn(server.url, cids)
    await server.kill()
    const failed = await run.done
    assert.is(failed.code, 1)
    assert.is(failed.json.error.code, 'SYNC_PEER_UNREACHABLE')
    server = await startServer(join(dir, 'srv'))
    const kept = await presentOn(server.url, cids)
    assert.ok(kept > 0, 'the restarted server kept what it had written')
    const again = await runCli(['push', 'tree', '--to', server.url, '--store', join(dir, 'a'), '--json'], env(dir))
    assert.is(again.code, 0, again.stderr)
    assert.is(again.json.blocks, cids.length - kept)
    const pulled = await runCli(['pull', root.toString(), '--from', server.url, '--store', join(dir, 'b')], env(dir))
    assert.is(pulled.code, 0, pulled.stderr)
    await assertSameTree(join(dir, 'a'), join(dir, 'b'), root)
  } finally { proxy.close(); await server.stop() }
})

It('a pull interrupted by a killed client, then by a killed server, fetches only the rest each time', async ({ dir }) => {
  const { root, cids } = await makeStore(join(dir, 'a'), 4, 24)
  let server = await startServer(join(dir, 'srv'))
  try {
    assert.is((await runCli(['push', 'tree', '--to', server.url, '--store', join(dir, 'a')], env(dir))).code, 0)
    const pullArgs = (url: string): string[] => ['pull', root.toString(), '--from', url, '--store', join(dir, 'b'), '--json']
    // 1. the client dies
    // (16 MiB: the local store writes behind every 8 MiB, so what a killed process received
    // before its last write-behind is on disk; the rest was never acknowledged to anyone)
    let proxy = await stallProxy(server.port, 'down', 16 * 1024 * 1024)
    const run = startCli(pullArgs(proxy.url), env(dir))
    await proxy.reached
    await sleep(200) // let the client store what it received (not an assertion on time)
    run.child.kill('SIGKILL')
    await run.done
    proxy.close()
    // 2. the server dies
    proxy = await stallProxy(server.port, 'down', 8 * 1024 * 1024)
    const run2 = startCli(pullArgs(proxy.url), env(dir))
    await proxy.reached
    await sleep(200)
    await server.kill()
    const failed = await run2.done
    proxy.close()
    assert.is(failed.code, 1)
    assert.is(failed.json.error.code, 'SYNC_PEER_UNREACHABLE')
    server = await startServer(join(dir, 'srv'))
    const done = await runCli(pullArgs(server.url), env(dir))
    assert.is(done.code, 0, done.stderr)
    assert.ok(done.json.present > 0, 'blocks kept from the interrupted runs')
    assert.ok(done.json.blocks < cids.length, `blocks ${done.json.blocks}`)
    assert.is(done.json.blocks + done.json.present, cids.length)
    await assertSameTree(join(dir, 'a'), join(dir, 'b'), root)
  } finally { await server.stop() }
})

It('concurrent pushes of overlapping trees both complete, each block stored once', async ({ dir }) => {
  const a = await makeStore(join(dir, 'a'), 5, 6)
  const b = await makeStore(join(dir, 'b'), 5, 6)
  // b: the same files plus one more directory
  const extra = await openLocalStore(join(dir, 'b'))
  const files = generateFiles(5, 4, Math.round(6 * 1024 * 1024 / 4 / 150_000), 300_000)
  for (const [k, v] of generateFiles(99, 1, 5, 100_000)) files.set(k.replace('d0', 'x0'), v)
  const rootB = await writeTree(extra, files)
  await extra.pin('tree', rootB)
  await extra.close()
  assert.equal(a.root, b.root)
  const server = await startServer(join(dir, 'srv'))
  try {
    const [ra, rb] = await Promise.all([
      runCli(['push', 'tree', '--to', server.url, '--store', join(dir, 'a'), '--json'], env(dir)),
      runCli(['push', 'tree', '--to', server.url, '--store', join(dir, 'b'), '--json'], env(dir))
    ])
    assert.is(ra.code, 0, ra.stderr)
    assert.is(rb.code, 0, rb.stderr)
    for (const [store, root] of [['a', a.root], ['b', rootB]] as const) {
      const out = join(dir, `pulled-${store}`)
      const pulled = await runCli(['pull', root.toString(), '--from', server.url, '--store', out], env(dir))
      assert.is(pulled.code, 0, pulled.stderr)
      await assertSameTree(join(dir, store), out, root)
    }
  } finally { await server.stop() }
})

It.run()
