import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CID } from 'multiformats/cid'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cidForChunk, openLocalStore, prepareChunk, walkDag, type LocalStore } from '../../src/cas/index.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { makeDag, storeDag, type TestDag } from './helpers/dag.js'

const PACK = 256 * 1024
const GC_CHILD = fileURLToPath(new URL('./helpers/gc-child.js', import.meta.url))

async function assertDag (store: LocalStore, dag: TestDag, present: boolean): Promise<void> {
  for (const [text, bytes] of dag.blocks) {
    if (present) {
      const got = await store.get(CID.parse(text))
      assert.ok(got !== undefined, `block ${text} of dag ${dag.root} present`)
      assert.equal(new Uint8Array(got), new Uint8Array(bytes))
    }
    else assert.is(await store.has(CID.parse(text)), false, `block ${text} should be gone`)
  }
}

const Gc = suite<{ dir: string, store: LocalStore }>('gc')
Gc.before.each(async (ctx) => { ctx.dir = await tmpdir(); ctx.store = await openLocalStore(ctx.dir, { packSizeBytes: PACK }) })
Gc.after.each(async (ctx) => { await ctx.store.close(); await rmrf(ctx.dir) })

Gc('pinned trees survive, unpinned garbage goes, packs shrink, and it all holds after a reopen', async (ctx) => {
  const keep = makeDag(1); const drop = makeDag(2); const keep2 = makeDag(3)
  for (const d of [keep, drop, keep2]) await storeDag(ctx.store, d) // interleaved in the same packs
  await ctx.store.pin('keep', keep.root)
  await ctx.store.pin('nested/keep@2', keep2.root)
  const before = await ctx.store.stats()
  const report = await ctx.store.gc()
  assert.is(report.pins, 2)
  assert.is(report.removedChunks, drop.blocks.size)
  assert.ok(report.freedBytes > 0)
  assert.is(report.missing, 0)
  const after = await ctx.store.stats()
  assert.is(after.chunks, before.chunks - drop.blocks.size)
  assert.ok(after.packBytes < before.packBytes)
  await assertDag(ctx.store, keep, true); await assertDag(ctx.store, keep2, true); await assertDag(ctx.store, drop, false)
  await ctx.store.close()
  ctx.store = await openLocalStore(ctx.dir, { packSizeBytes: PACK })
  await assertDag(ctx.store, keep, true); await assertDag(ctx.store, drop, false)
  assert.is((await ctx.store.fsck()).ok, true)
  const again = await ctx.store.gc()
  assert.is(again.removedChunks, 0); assert.is(again.packsRewritten + again.packsDeleted, 0)
})

Gc('a dry run reports what gc would free and changes nothing', async ({ store }) => {
  const keep = makeDag(4); const drop = makeDag(5)
  await storeDag(store, keep); await storeDag(store, drop)
  await store.pin('k', keep.root)
  const before = await store.stats()
  const dry = await store.gc({ dryRun: true })
  assert.is(dry.removedChunks, drop.blocks.size)
  assert.equal(await store.stats(), before)
  await assertDag(store, drop, true)
})

Gc('a little garbage in a big pack only leaves the index; repackThreshold 0 rewrites the pack', async ({ store }) => {
  const keep = makeDag(70, 4, 10, 5_000) // ~200 KiB, one pack
  const drop = seededBytes(71, 3_000)
  await store.put(cidForChunk(drop), drop)
  await storeDag(store, keep)
  await store.pin('k', keep.root)
  const lazy = await store.gc()
  assert.is(lazy.removedChunks, 1)
  assert.is(lazy.packsRewritten, 0)
  assert.ok(lazy.reclaimableBytes >= drop.length)
  assert.is(await store.has(cidForChunk(drop)), false)
  assert.is(await store.get(cidForChunk(drop)), undefined)
  const check = await store.fsck()
  assert.is(check.ok, true); assert.is(check.garbageRecords, 1)
  const full = await store.gc({ repackThreshold: 0 })
  assert.is(full.packsRewritten, 1); assert.is(full.removedChunks, 0)
  assert.ok(full.freedBytes >= drop.length)
  assert.is((await store.fsck()).garbageRecords, 0)
  await assertDag(store, keep, true)
  await store.put(cidForChunk(drop), drop) // stored again after all that
  assert.equal(await store.get(cidForChunk(drop)), drop)
})

Gc('unpinning makes a tree garbage; blocks shared with a pinned tree stay', async ({ store }) => {
  const a = makeDag(6)
  const shared = [...a.blocks.keys()][0]
  await storeDag(store, a)
  await store.pin('a', a.root)
  const single = CID.parse(shared)
  await store.pin('single', single)
  await store.unpin('a')
  await store.gc()
  assert.ok(await store.has(single))
  assert.is(await store.has(a.root), false)
  assert.is((await store.stats()).chunks, 1)
})

Gc('blocks written under a lease survive a gc that runs meanwhile, even ones found already present', async ({ store }) => {
  const old = makeDag(7)
  await storeDag(store, old) // unpinned: garbage, until an import relies on it
  const inFlight = makeDag(8)
  const lease = store.beginWrite()
  const reused = [...old.blocks.keys()].slice(0, 3).map((t) => CID.parse(t))
  const entries = [...inFlight.blocks]
  let i = 0
  for (; i < entries.length / 2; i++) await store.put(CID.parse(entries[i][0]), entries[i][1])
  const gcRun = store.gc()
  for (const cid of reused) assert.is(await store.putPrepared(prepareChunk(old.blocks.get(cid.toString()) as Uint8Array)), false)
  for (; i < entries.length; i++) await store.put(CID.parse(entries[i][0]), entries[i][1])
  const report = await gcRun
  assert.ok(report.removedChunks <= old.blocks.size - reused.length)
  await assertDag(store, inFlight, true)
  for (const cid of reused) assert.ok(await store.has(cid), `reused ${cid} survived`)
  await store.pin('in-flight', inFlight.root)
  lease.release()
  const second = await store.gc()
  await assertDag(store, inFlight, true)
  for (const cid of reused) assert.is(await store.has(cid), false)
  assert.is(second.missing, 0)
})

Gc('a root pinned while gc runs is kept whole', async ({ store }) => {
  const late = makeDag(9, 4, 6)
  await storeDag(store, late)
  for (let i = 0; i < 40; i++) { const b = seededBytes(5000 + i, 20_000); await store.put(cidForChunk(b), b) }
  const run = store.gc()
  await store.pin('late', late.root)
  await run
  await assertDag(store, late, true)
})

Gc('a root pinned (without a lease) between two packs of a sweep keeps every block still present', async ({ store }) => {
  const dags = Array.from({ length: 4 }, (_, i) => makeDag(60 + i, 6, 8, 10_000))
  for (let k = 0; k < 48; k++) for (const d of dags) { const e = [...d.blocks][k]; if (e !== undefined) await store.put(CID.parse(e[0]), e[1]) }
  for (const d of dags) await storeDag(store, d) // the rest (nodes, roots)
  // Blocks swept before the pin are gone (they were garbage then), and so, at the end of the
  // run, are blocks whose parent node went; every block reachable once pin() resolved stays.
  let pinned: Promise<string[]> | undefined
  const present = async (): Promise<string[]> => { // reachable through present nodes, and present
    const out: string[] = []
    for await (const cid of walkDag(store, dags[2].root, { onMissing: 'skip' })) if (store.locateSync(cid) !== undefined) out.push(cid.toString()) // not has(): it would protect
    return out.sort()
  }
  const report = await store.gc({ onPack: (done) => { if (done === 1) pinned = store.pin('late', dags[2].root).then(present) } })
  const kept = await pinned
  assert.ok(kept !== undefined && kept.length > 5, `kept ${kept?.length}`)
  assert.ok(report.packsRewritten + report.packsDeleted >= 2)
  assert.equal(await present(), kept)
  await store.gc()
  assert.equal(await present(), kept)
  for (const i of [0, 1, 3]) await assertDag(store, dags[i], false)
})

Gc('concurrent writers and repeated gc runs: no leased or pinned block is ever lost', async ({ store }) => {
  const dags = Array.from({ length: 6 }, (_, i) => makeDag(20 + i, 2, 5))
  const writers = dags.map(async (dag, i) => {
    const lease = store.beginWrite()
    for (const [text, bytes] of dag.blocks) { await store.put(CID.parse(text), bytes); if (Math.random() < 0.2) await new Promise((resolve) => setImmediate(resolve)) }
    if (i % 2 === 0) await store.pin(`dag/${i}`, dag.root)
    lease.release()
  })
  const collector = (async () => { for (let k = 0; k < 5; k++) await store.gc() })()
  await Promise.all([...writers, collector])
  await store.gc()
  dags.forEach((_, i) => { if (i % 2 === 0) void 0 })
  for (let i = 0; i < dags.length; i++) await assertDag(store, dags[i], i % 2 === 0)
  assert.is((await store.fsck()).ok, true)
})

function runGcChild (dir: string, killAfterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GC_CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), killAfterMs))
    child.on('error', reject)
    child.on('close', () => resolve())
  })
}

Gc('kill -9 during gc at any moment leaves every pinned block readable', async (ctx) => {
  const keep = makeDag(40, 4, 8); const drop = makeDag(41, 4, 8)
  await storeDag(ctx.store, keep); await storeDag(ctx.store, drop)
  await ctx.store.pin('keep', keep.root)
  await ctx.store.close()
  for (const delay of [0, 3, 10, 25, 60]) {
    await runGcChild(ctx.dir, delay)
    ctx.store = await openLocalStore(ctx.dir, { packSizeBytes: PACK })
    await assertDag(ctx.store, keep, true)
    const check = await ctx.store.fsck()
    assert.is(check.ok, true, JSON.stringify(check.problems.slice(0, 3)))
    await storeDag(ctx.store, drop) // garbage again for the next round
    await ctx.store.close()
  }
  ctx.store = await openLocalStore(ctx.dir, { packSizeBytes: PACK })
  await ctx.store.gc()
  await assertDag(ctx.store, keep, true); await assertDag(ctx.store, drop, false)
})

Gc.run()
