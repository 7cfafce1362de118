import { copyFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cidForChunk, openLocalStore, type LocalStore } from '../../src/cas/index.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { makeDag, storeDag } from './helpers/dag.js'

const PACK = 128 * 1024

async function packFiles (dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'packs'))).filter((f) => f.endsWith('.pack')).sort()
}

const Fsck = suite<{ dir: string, store: LocalStore }>('fsck')
Fsck.before.each(async (ctx) => { ctx.dir = await tmpdir(); ctx.store = await openLocalStore(ctx.dir, { packSizeBytes: PACK }) })
Fsck.after.each(async (ctx) => { await ctx.store.close(); await rmrf(ctx.dir) })

Fsck('a sound store with pins checks clean', async ({ store }) => {
  const dag = makeDag(1)
  await storeDag(store, dag)
  await store.pin('t', dag.root)
  const r = await store.fsck()
  assert.is(r.ok, true)
  assert.is(r.verified, dag.blocks.size)
  assert.is(r.problems.length, 0)
})

Fsck('valid records a pinned tree wants but the index lost are orphans; repair indexes them again', async ({ store }) => {
  const dag = makeDag(5)
  await storeDag(store, dag)
  await store.pin('t', dag.root)
  const unwanted = seededBytes(3, 30_000)
  await store.put(cidForChunk(unwanted), unwanted)
  await store.flush()
  const lost = [...dag.blocks.keys()].slice(0, 5).map((t) => CID.parse(t)) // raw chunks and a node
  lost.push(dag.root)
  await store.parts.index.batch([...lost, cidForChunk(unwanted)].map((cid) => ({ type: 'del', sublevel: 'chunks', key: cid.bytes })), true)
  const found = await store.fsck()
  assert.is(found.orphans, lost.length); assert.is(found.missing, 0); assert.is(found.ok, false)
  assert.is(found.garbageRecords, 1) // the unwanted one: gc's business, not a fault
  const fixed = await store.fsck({ repair: true })
  assert.is(fixed.orphans, lost.length)
  for (const cid of lost) assert.ok(await store.has(cid))
  assert.is(await store.has(cidForChunk(unwanted)), false)
  const again = await store.fsck()
  assert.is(again.ok, true); assert.is(again.orphans, 0)
  assert.is((await store.stats()).chunks, dag.blocks.size)
})

Fsck('a pack nothing uses (a copy of another) is reported and deleted by repair; stray files are listed', async (ctx) => {
  const dag = makeDag(2)
  await storeDag(ctx.store, dag)
  await ctx.store.flush()
  const packs = await packFiles(ctx.dir)
  const { size } = await stat(join(ctx.dir, 'packs', packs[0]))
  // An index that knows pack 0 as fully indexed, while no entry uses it.
  await ctx.store.parts.index.batch([{ type: 'put', sublevel: 'meta', key: 'pack/0', value: { tail: size } }], true) // (pack 0: below the active one)
  await ctx.store.close()
  await copyFile(join(ctx.dir, 'packs', packs[0]), join(ctx.dir, 'packs', '000000.pack'))
  await writeFile(join(ctx.dir, 'packs', 'notes.txt'), 'hello')
  ctx.store = await openLocalStore(ctx.dir, { packSizeBytes: PACK })
  const found = await ctx.store.fsck()
  assert.is(found.unreferencedPacks, 1)
  assert.equal(found.strayFiles, ['notes.txt'])
  assert.ok(found.garbageRecords > 0)
  assert.ok(ctx.store.recovery.foundPacks.length === 0)
  const fixed = await ctx.store.fsck({ repair: true })
  assert.is(fixed.ok, true)
  assert.not.ok((await packFiles(ctx.dir)).includes('000000.pack'))
  for (const [text, bytes] of dag.blocks) assert.equal(new Uint8Array(await ctx.store.get(CID.parse(text)) ?? []), new Uint8Array(bytes))
})

Fsck('a pack file the index never knew, holding nothing new, is deleted on open', async (ctx) => {
  const dag = makeDag(3)
  await storeDag(ctx.store, dag)
  await ctx.store.close()
  const packs = await packFiles(ctx.dir)
  await copyFile(join(ctx.dir, 'packs', packs[0]), join(ctx.dir, 'packs', '000099.pack'))
  ctx.store = await openLocalStore(ctx.dir, { packSizeBytes: PACK })
  assert.equal(ctx.store.recovery.foundPacks, [99])
  assert.is(ctx.store.recovery.foundPacksRemoved, 1)
  assert.not.ok((await packFiles(ctx.dir)).includes('000099.pack'))
  assert.is((await ctx.store.fsck()).ok, true)
})

Fsck('a lost pack: its entries dangle, repair drops them, and the pinned tree reports what is missing', async (ctx) => {
  const dag = makeDag(4, 4, 6)
  await storeDag(ctx.store, dag)
  await ctx.store.pin('t', dag.root)
  await ctx.store.close()
  const packs = await packFiles(ctx.dir)
  assert.ok(packs.length >= 3)
  await rm(join(ctx.dir, 'packs', packs[0]))
  ctx.store = await openLocalStore(ctx.dir, { packSizeBytes: PACK })
  assert.equal(ctx.store.recovery.damagedPacks, [Number(packs[0].slice(0, 6))])
  const fixed = await ctx.store.fsck({ repair: true })
  assert.is(fixed.lostPacks, 1)
  assert.ok(fixed.dangling > 0)
  assert.ok(fixed.missing > 0 && fixed.missing <= fixed.dangling) // children of a lost node are unreachable, not missing
  assert.is(fixed.ok, false, 'missing blocks cannot be repaired locally')
  assert.ok(fixed.problems.filter((p) => p.kind === 'missing').every((p) => p.pin === 't'))
  for (const [text, bytes] of dag.blocks) {
    const cid = CID.parse(text)
    if (await ctx.store.has(cid)) continue
    await ctx.store.put(cid, bytes) // fetched or imported again
  }
  assert.is((await ctx.store.fsck()).ok, true)
})

Fsck.run()
