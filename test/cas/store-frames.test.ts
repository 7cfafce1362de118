import { appendFile, open, readdir, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { Level } from 'level'
import type { CID } from 'multiformats/cid'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cidForBlock, cidForChunk, DAG_CBOR_CODEC, openLocalStore, type LocalStore } from '../../src/cas/index.js'
import { prepareFrame } from '../../src/cas/prepare.js'
import { BlockBatcher } from '../../src/cas/put-blocks.js'
import { encodeFrameHead } from '../../src/cas/store/pack-format.js'
import { rejects } from '../helpers/assert.js'
import { seededBytes, seededRandom } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

/** `n` blocks of mixed content (half compressible text, half random), 3-40 KB each. */
function blocksOf (seed: number, n: number): Array<{ cid: CID, bytes: Uint8Array }> {
  return Array.from({ length: n }, (_, i) => {
    const size = 3_000 + ((seed * 31 + i * 7919) % 37_000)
    const bytes = i % 2 === 0
      ? new TextEncoder().encode(`frame ${seed} member ${i} `.repeat(size / 10)).subarray(0, size)
      : seededBytes(seed * 1000 + i + 1, size)
    return { cid: cidForChunk(bytes), bytes }
  })
}

async function packPath (dir: string, store: LocalStore, cid: CID): Promise<{ path: string, offset: number, payloadAt: number }> {
  const loc = await store.locate(cid)
  const e = loc?.entry
  if (e?.frame === undefined) throw new Error('not a frame member in a pack')
  return { path: join(dir, 'packs', `${String(e.pack).padStart(6, '0')}.pack`), offset: e.offset, payloadAt: e.frame.payloadAt }
}

async function lastPack (dir: string): Promise<string> {
  const packs = (await readdir(join(dir, 'packs'))).filter((f) => f.endsWith('.pack')).sort()
  return join(dir, 'packs', packs[packs.length - 1])
}

const Frames = suite<{ dir: string }>('LocalStore frames')
Frames.before.each(async (ctx) => { ctx.dir = await tmpdir() })
Frames.after.each(async (ctx) => { await rmrf(ctx.dir) })

Frames('a frame round-trips: members read back in any order, before and after a flush and a reopen', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const blocks = blocksOf(1, 12)
  const r = await store.putFramesMany([prepareFrame(blocks.slice(0, 7)), prepareFrame(blocks.slice(7))])
  assert.equal(r, { stored: 12, frames: 2, duplicates: 0, skipped: 0 })
  const order = [...blocks.keys()].sort((a, b) => ((a * 5) % 12) - ((b * 5) % 12))
  for (const i of order) assert.equal(await store.get(blocks[i].cid), blocks[i].bytes, `member ${i} while pending`)
  await store.flush()
  for (const i of order.reverse()) assert.equal(await store.get(blocks[i].cid), blocks[i].bytes, `member ${i} from the pack`)
  const s = await store.stats({ frames: true })
  assert.is(s.chunks, 12); assert.is(s.framedChunks, 12); assert.is(s.frames, 2)
  await store.close()
  store = await openLocalStore(dir)
  const rnd = seededRandom(7)
  for (let k = 0; k < 40; k++) {
    const b = blocks[Math.floor(rnd() * blocks.length)]
    assert.equal(await store.get(b.cid), b.bytes)
  }
  assert.is((await store.fsck()).ok, true)
  assert.ok((await store.stats()).storedBytes < blocks.reduce((n, b) => n + b.bytes.length, 0), 'compressed')
  await store.close()
})

Frames('concurrent reads of one frame\'s members (a shared load) all return their own bytes', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const blocks = blocksOf(16, 10)
  await store.putFramesMany([prepareFrame(blocks.slice(0, 5)), prepareFrame(blocks.slice(5))])
  await store.close()
  store = await openLocalStore(dir)
  const got = await Promise.all([...blocks, ...blocks.slice().reverse()].map(async (b) => await store.get(b.cid)))
  got.forEach((bytes, i) => { assert.equal(bytes, [...blocks, ...blocks.slice().reverse()][i].bytes) })
  await store.close()
})

Frames('a frame of blocks the store holds is not written; one with some is written whole and counts them as duplicates', async ({ dir }) => {
  const store = await openLocalStore(dir)
  const blocks = blocksOf(2, 6)
  await store.put(blocks[1].cid, blocks[1].bytes)
  assert.equal(await store.putFramesMany([prepareFrame(blocks)]), { stored: 5, frames: 1, duplicates: 1, skipped: 0 })
  assert.equal(await store.putFramesMany([prepareFrame(blocks.slice(2, 4))]), { stored: 0, frames: 0, duplicates: 0, skipped: 1 })
  await store.flush()
  for (const b of blocks) assert.equal(await store.get(b.cid), b.bytes)
  const check = await store.fsck()
  assert.is(check.ok, true)
  assert.is(check.garbageRecords, 1, 'the duplicate member is garbage')
  await store.close()
})

Frames('a pack cut mid-frame: the whole frame is cut on open, earlier records stay, a re-put stores it again', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const first = blocksOf(3, 5)
  await store.putFramesMany([prepareFrame(first)])
  await store.close()
  const second = blocksOf(4, 6)
  const f = prepareFrame(second)
  const head = encodeFrameHead(f.members.map((m) => ({ cidBytes: m.cid.bytes, rawSize: m.rawSize })), f.compressed ? 1 : 0, f.payload.length)
  const whole = Buffer.concat([head, f.payload])
  await appendFile(await lastPack(dir), whole.subarray(0, head.length + Math.floor(f.payload.length / 2)))
  store = await openLocalStore(dir)
  assert.is(store.recovery.reindexed, 0)
  assert.is(store.recovery.truncatedBytes, head.length + Math.floor(f.payload.length / 2))
  for (const b of first) assert.equal(await store.get(b.cid), b.bytes)
  for (const b of second) assert.is(await store.has(b.cid), false)
  await store.close()
  // The same frame written whole (a write the kernel kept before a kill -9) is re-indexed.
  await appendFile(await lastPack(dir), whole)
  store = await openLocalStore(dir)
  assert.is(store.recovery.reindexed, second.length)
  for (const b of [...first, ...second]) assert.equal(await store.get(b.cid), b.bytes)
  assert.is((await store.fsck()).ok, true)
  await store.close()
})

Frames('a corrupt frame: get() of a member rejects, fsck reports every member, repair drops them all and keeps the rest', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const good = blocksOf(5, 4)
  const bad = blocksOf(6, 5)
  await store.putFramesMany([prepareFrame(good), prepareFrame(bad)])
  await store.flush()
  const { path, offset, payloadAt } = await packPath(dir, store, bad[0].cid)
  await store.close()
  const fh = await open(path, 'r+')
  await fh.write(Buffer.from('XXXXXXXX'), 0, 8, offset + payloadAt) // the zstd frame header: nothing decompresses
  await fh.close()
  store = await openLocalStore(dir)
  const found = await store.fsck()
  assert.is(found.ok, false)
  assert.is(found.corrupt, bad.length)
  assert.equal(new Set(found.problems.map((p) => p.cid)), new Set(bad.map((b) => b.cid.toString())))
  await rejects(store.get(bad[2].cid), 'CAS_CHUNK_INVALID')
  const repaired = await store.fsck({ repair: true })
  assert.is(repaired.corrupt, bad.length - 1, 'the member get() dropped is no longer indexed')
  for (const b of bad) assert.is(await store.has(b.cid), false)
  for (const b of good) assert.equal(await store.get(b.cid), b.bytes)
  await store.putFramesMany([prepareFrame(bad)])
  for (const b of bad) assert.equal(await store.get(b.cid), b.bytes)
  assert.is((await store.fsck()).ok, true)
  await store.close()
})

Frames('a member whose bytes inside a frame are damaged fails alone: its neighbours verify and stay', async ({ dir }) => {
  let store = await openLocalStore(dir, { compressionLevel: 0 })
  const blocks = blocksOf(15, 4)
  await store.putFramesMany([prepareFrame(blocks, 0)])
  await store.flush()
  const { path, offset, payloadAt } = await packPath(dir, store, blocks[2].cid)
  const at = (await store.locate(blocks[2].cid))!.entry!.frame!.at
  await store.close()
  const fh = await open(path, 'r+')
  await fh.write(Buffer.from([blocks[2].bytes[10] ^ 0xff]), 0, 1, offset + payloadAt + at + 10)
  await fh.close()
  store = await openLocalStore(dir)
  const found = await store.fsck()
  assert.is(found.corrupt, 1)
  assert.is(found.problems[0].cid, blocks[2].cid.toString())
  await rejects(store.get(blocks[2].cid), 'CAS_CHUNK_INVALID')
  for (const b of blocks.filter((_, i) => i !== 2)) assert.equal(await store.get(b.cid), b.bytes)
  await store.close()
})

Frames('gc keeps the live members of a partly dead frame (framed again) and drops the rest', async ({ dir }) => {
  let store = await openLocalStore(dir, { packSizeBytes: 256 * 1024 })
  const blocks = blocksOf(7, 10)
  const live = blocks.filter((_, i) => i % 3 === 0)
  const node = dagCbor.encode({ kids: live.map((b) => b.cid) })
  const root = cidForBlock(DAG_CBOR_CODEC, node)
  await store.putFramesMany([prepareFrame(blocks)])
  await store.put(root, node)
  await store.pin('keep', root)
  const before = await store.stats()
  const report = await store.gc({ repackThreshold: 0 })
  assert.is(report.removedChunks, blocks.length - live.length)
  assert.ok(report.freedBytes > 0)
  for (const b of live) assert.equal(await store.get(b.cid), b.bytes)
  for (const b of blocks.filter((_, i) => i % 3 !== 0)) assert.is(await store.has(b.cid), false)
  const after = await store.stats({ frames: true })
  assert.is(after.chunks, before.chunks - report.removedChunks)
  assert.is(after.framedChunks, live.length)
  assert.is(after.frames, 1)
  const check = await store.fsck()
  assert.is(check.ok, true); assert.is(check.garbageRecords, 0)
  await store.close()
  store = await openLocalStore(dir)
  for (const b of live) assert.equal(await store.get(b.cid), b.bytes)
  assert.equal((await store.stats()).storedBytes, after.storedBytes, 'counters survive the reopen')
  await store.close()
})

Frames('gc deletes a frame whose members are all garbage, and copies a wholly live one as it is', async ({ dir }) => {
  const store = await openLocalStore(dir, { packSizeBytes: 256 * 1024 })
  const dead = blocksOf(8, 4)
  const kept = blocksOf(9, 4)
  const node = dagCbor.encode({ kids: kept.map((b) => b.cid) })
  const root = cidForBlock(DAG_CBOR_CODEC, node)
  await store.putFramesMany([prepareFrame(dead), prepareFrame(kept)])
  await store.put(root, node)
  await store.pin('keep', root)
  const report = await store.gc({ repackThreshold: 0 })
  assert.is(report.removedChunks, dead.length)
  for (const b of kept) assert.equal(await store.get(b.cid), b.bytes)
  for (const b of dead) assert.is(await store.has(b.cid), false)
  assert.is((await store.fsck()).ok, true)
  await store.close()
})

Frames('a version 1 store (block records only) opens, reads, takes frames and is then version 2', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const old = blocksOf(10, 5)
  for (const b of old) await store.put(b.cid, b.bytes) // put() writes version 1 block records, byte for byte
  await store.close()
  const db = new Level<string, string>(join(dir, 'index'))
  const meta = db.sublevel<string, unknown>('m', { valueEncoding: 'json' })
  await meta.put('version', 1)
  const counters = await meta.get('counters') as Record<string, number>
  delete counters.framedChunks // a version 1 store never wrote it
  await meta.put('counters', counters)
  await db.close()
  store = await openLocalStore(dir)
  for (const b of old) assert.equal(await store.get(b.cid), b.bytes)
  const fresh = blocksOf(11, 4)
  await store.putFramesMany([prepareFrame(fresh)])
  for (const b of [...old, ...fresh]) assert.equal(await store.get(b.cid), b.bytes)
  assert.is((await store.stats()).framedChunks, fresh.length)
  assert.is((await store.fsck()).ok, true)
  await store.close()
  const db2 = new Level<string, string>(join(dir, 'index'))
  assert.is(await db2.sublevel<string, unknown>('m', { valueEncoding: 'json' }).get('version'), 2)
  await db2.close()
})

Frames('a lost index is rebuilt from frame records alone', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const blocks = blocksOf(12, 9)
  await store.putFramesMany([prepareFrame(blocks.slice(0, 4)), prepareFrame(blocks.slice(4))])
  await store.close()
  await rmrf(join(dir, 'index'))
  store = await openLocalStore(dir)
  assert.is(store.recovery.reindexed, blocks.length)
  for (const b of blocks) assert.equal(await store.get(b.cid), b.bytes)
  assert.is((await store.fsck()).ok, true)
  await store.close()
})

Frames('a pack cut inside a frame below the indexed tail: fsck reports the members as dangling and repair drops them', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const a = blocksOf(13, 4)
  const b = blocksOf(14, 4)
  await store.putFramesMany([prepareFrame(a), prepareFrame(b)])
  await store.flush()
  const { path, offset } = await packPath(dir, store, b[0].cid)
  await store.close()
  await truncate(path, offset + 100)
  store = await openLocalStore(dir)
  for (const x of a) assert.equal(await store.get(x.cid), x.bytes)
  const report = await store.fsck({ repair: true })
  assert.is(report.dangling, b.length)
  for (const x of b) assert.is(await store.has(x.cid), false)
  assert.is((await store.fsck()).ok, true)
  await store.close()
})

Frames('putMany (the path of pulled and pushed blocks) verifies every block, frames chunks and nodes apart, and stores fewer bytes than put one by one', async ({ dir }) => {
  const text = (i: number): Uint8Array => new TextEncoder().encode(`/usr/share/doc/package-${i}/copyright: GPL-2+ `.repeat(300))
  const chunks = Array.from({ length: 24 }, (_, i) => { const bytes = text(i); return { cid: cidForChunk(bytes), bytes } })
  const nodes = Array.from({ length: 6 }, (_, i) => { const bytes = dagCbor.encode({ entries: [`etc-${i}`, 'passwd', 'group'], n: i }); return { cid: cidForBlock(DAG_CBOR_CODEC, bytes), bytes } })
  const mixed = [...chunks.slice(0, 12), ...nodes, ...chunks.slice(12)]
  const framed = await openLocalStore(join(dir, 'framed'))
  const single = await openLocalStore(join(dir, 'single'))
  try {
    const bad = { cid: chunks[0].cid, bytes: chunks[1].bytes }
    await rejects(framed.putMany([chunks[2], bad]), 'CAS_CHUNK_INVALID')
    assert.is(await framed.has(chunks[2].cid), false, 'a batch with a bad block stores nothing')
    await framed.put(chunks[5].cid, chunks[5].bytes)
    assert.is(await framed.putMany([...mixed, chunks[7]]), mixed.length - 1, 'present and repeated blocks are not new')
    assert.is(await framed.putMany(mixed), 0)
    for (const b of mixed) await single.put(b.cid, b.bytes)
    await framed.flush(); await single.flush()
    for (const b of mixed) assert.equal(await framed.get(b.cid), b.bytes)
    const f = await framed.stats({ frames: true })
    const s = await single.stats({ frames: true })
    assert.is(f.chunks, mixed.length)
    assert.ok(f.framedChunks >= mixed.length - 2, `framed ${f.framedChunks}`)
    assert.ok(f.frames !== undefined && f.frames >= 2, 'chunks and nodes are framed apart')
    for (const n of nodes) assert.is((await framed.locate(n.cid))?.entry?.frame?.rawSize, nodes.reduce((a, x) => a + x.bytes.length, 0), 'a node frame holds only nodes')
    assert.is(s.framedChunks, 0)
    assert.ok(f.storedBytes < s.storedBytes * 0.7, `framed ${f.storedBytes} B vs one by one ${s.storedBytes} B`)
    assert.is((await framed.fsck()).ok, true)
  } finally { await framed.close(); await single.close() }
})

Frames('BlockBatcher stores batches while the next is gathered: nothing is lost, each block is stored once, all are readable after flush', async ({ dir }) => {
  const store = await openLocalStore(join(dir, 's'))
  try {
    const blocks = blocksOf(21, 120) // about 2.6 MB: several batches of about 1 MiB
    const batcher = new BlockBatcher(store, { verified: true, limitBytes: 1024 * 1024 })
    const answered: string[] = []
    for (const b of [...blocks, blocks[3], blocks[77]]) for (const x of await batcher.add(b)) answered.push(x.cid.toString())
    assert.ok(answered.length > 0 && answered.length < blocks.length, `answered before flush ${answered.length}`)
    for (const x of await batcher.flush()) answered.push(x.cid.toString())
    assert.is(answered.length, blocks.length + 2, 'every block added is answered once')
    assert.is(batcher.stored, blocks.length, 'repeated blocks are not stored twice')
    for (const b of blocks) assert.equal(await store.get(b.cid), b.bytes)
    assert.is((await store.stats({ frames: true })).chunks, blocks.length)
    assert.is((await store.fsck()).ok, true)
  } finally { await store.close() }
})

Frames('release: called once per frame, only after its record is written and indexed, and at once for a frame not needed', async ({ dir }) => {
  const store = await openLocalStore(dir)
  const blocks = blocksOf(5, 9)
  const released: string[] = []
  const withRelease = (name: string, members: typeof blocks) => ({ ...prepareFrame(members), release: () => { released.push(name) } })
  await store.putFramesMany([withRelease('a', blocks.slice(0, 4)), withRelease('lone', blocks.slice(4, 5))])
  assert.equal(released, [], 'nothing released before the commit')
  for (const b of blocks.slice(0, 5)) assert.equal(await store.get(b.cid), b.bytes)
  await store.flush()
  assert.equal(released.sort(), ['a', 'lone'])
  // A frame whose members are all stored is skipped and released at once; a partly new one after its commit.
  await store.putFramesMany([withRelease('known', blocks.slice(0, 4)), withRelease('partly', blocks.slice(3, 9))])
  assert.equal(released.sort(), ['a', 'known', 'lone'])
  await store.flush()
  assert.equal(released.sort(), ['a', 'known', 'lone', 'partly'])
  for (const b of blocks) assert.equal(await store.get(b.cid), b.bytes)
  await store.close()
})

Frames.run()
