import { spawn } from 'node:child_process'
import { appendFile, open, readdir, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cidForChunk, openLocalStore, type LocalStore } from '../../src/cas/index.js'
import { encodeRecordHead } from '../../src/cas/store/pack-format.js'
import { rejects } from '../helpers/assert.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { killChunk } from './helpers/kill-writer.js'

const WRITER = fileURLToPath(new URL('./helpers/kill-writer.js', import.meta.url))

async function lastPack (dir: string): Promise<string> {
  const packs = (await readdir(join(dir, 'packs'))).filter((f) => f.endsWith('.pack')).sort()
  return join(dir, 'packs', packs[packs.length - 1])
}

/** Offset of the payload of `cid`'s record, and its pack path. */
async function payloadAt (store: LocalStore, dir: string, cid: ReturnType<typeof cidForChunk>): Promise<{ path: string, at: number }> {
  await store.flush()
  const loc = await store.locate(cid)
  if (loc?.entry === undefined) throw new Error('not in a pack')
  return { path: join(dir, 'packs', `${String(loc.entry.pack).padStart(6, '0')}.pack`), at: loc.entry.offset + 16 + cid.bytes.length }
}

const Crash = suite<{ dir: string }>('LocalStore crash safety')
Crash.before.each(async (ctx) => { ctx.dir = await tmpdir() })
Crash.after.each(async (ctx) => { await rmrf(ctx.dir) })

Crash('a corrupt byte in a pack: get() rejects CAS_CHUNK_INVALID, fsck finds it, repair makes it missing, put restores it', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const blocks = Array.from({ length: 5 }, (_, i) => seededBytes(i + 1, 30_000))
  for (const b of blocks) await store.put(cidForChunk(b), b)
  const victim = cidForChunk(blocks[2])
  const { path, at } = await payloadAt(store, dir, victim)
  await store.close()
  const fh = await open(path, 'r+')
  await fh.write(Buffer.from([blocks[2][0] ^ 0xff]), 0, 1, at)
  await fh.close()
  store = await openLocalStore(dir)
  const found = await store.fsck()
  assert.is(found.corrupt, 1); assert.is(found.ok, false)
  assert.is(found.problems[0].cid, String(victim))
  await rejects(store.get(victim), 'CAS_CHUNK_INVALID')
  const repaired = await store.fsck({ repair: true })
  assert.is(repaired.corrupt + repaired.garbageRecords >= 1, true)
  assert.is(await store.has(victim), false)
  assert.is(await store.get(victim), undefined)
  for (const b of blocks.filter((_, i) => i !== 2)) assert.equal(await store.get(cidForChunk(b)), b)
  await store.put(victim, blocks[2])
  assert.equal(await store.get(victim), blocks[2])
  assert.is((await store.fsck()).ok, true)
  await store.close()
})

Crash('a corrupt chunk read by get() is dropped, so it reads as absent and is stored again by put()', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const b = seededBytes(3, 50_000)
  await store.put(cidForChunk(b), b)
  const { path, at } = await payloadAt(store, dir, cidForChunk(b))
  await store.close()
  const fh = await open(path, 'r+'); await fh.write(Buffer.from([0, 1, 2, 3]), 0, 4, at + 100); await fh.close()
  store = await openLocalStore(dir)
  await rejects(store.get(cidForChunk(b)), 'CAS_CHUNK_INVALID')
  assert.is(await store.has(cidForChunk(b)), false)
  await store.put(cidForChunk(b), b)
  assert.equal(await store.get(cidForChunk(b)), b)
  await store.close()
})

Crash('a torn tail (a whole unindexed record and half a record) is re-indexed and cut on open', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const blocks = Array.from({ length: 8 }, (_, i) => seededBytes(i + 10, 20_000))
  for (const b of blocks) await store.put(cidForChunk(b), b)
  await store.close()
  const extra = seededBytes(99, 5000)
  const whole = Buffer.concat([encodeRecordHead(cidForChunk(extra).bytes, 0, extra.length, extra.length), extra])
  const half = seededBytes(98, 3000)
  const torn = Buffer.concat([encodeRecordHead(cidForChunk(half).bytes, 0, half.length, half.length), half]).subarray(0, 1500)
  await appendFile(await lastPack(dir), Buffer.concat([whole, torn]))
  store = await openLocalStore(dir)
  assert.is(store.recovery.reindexed, 1)
  assert.is(store.recovery.truncatedBytes, torn.length)
  for (const b of [...blocks, extra]) assert.equal(await store.get(cidForChunk(b)), b)
  assert.is(await store.has(cidForChunk(half)), false)
  assert.is((await store.fsck()).ok, true)
  await store.close()
})

Crash('a pack truncated mid-record: everything before stays readable, fsck reports and repairs the rest', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const blocks = Array.from({ length: 10 }, (_, i) => seededBytes(i + 20, 20_000))
  for (const b of blocks) await store.put(cidForChunk(b), b)
  const { path, at } = await payloadAt(store, dir, cidForChunk(blocks[7]))
  await store.close()
  await truncate(path, at + 500)
  store = await openLocalStore(dir)
  for (const b of blocks.slice(0, 7)) assert.equal(await store.get(cidForChunk(b)), b)
  const report = await store.fsck({ repair: true })
  assert.ok(report.dangling >= 2, `dangling ${report.dangling}`)
  for (const b of blocks.slice(7)) assert.is(await store.has(cidForChunk(b)), false)
  assert.is((await store.fsck()).ok, true)
  await store.close()
  store = await openLocalStore(dir)
  assert.equal(store.recovery.damagedPacks, [], 'the repaired pack is no longer shorter than indexed')
  for (const b of blocks.slice(0, 7)) assert.equal(await store.get(cidForChunk(b)), b)
  await store.close()
})

Crash('a pack cut at a record boundary: the lost entries are dropped and the pack is sound again', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const blocks = Array.from({ length: 6 }, (_, i) => seededBytes(i + 40, 20_000))
  for (const b of blocks) await store.put(cidForChunk(b), b)
  const { path, at } = await payloadAt(store, dir, cidForChunk(blocks[4]))
  await store.close()
  await truncate(path, at - 16 - 36)
  store = await openLocalStore(dir)
  assert.is(store.recovery.damagedPacks.length, 1)
  const report = await store.fsck({ repair: true })
  assert.is(report.dangling, 2)
  await store.close()
  store = await openLocalStore(dir)
  assert.equal(store.recovery.damagedPacks, [])
  assert.is((await store.fsck()).ok, true)
  for (const b of blocks.slice(0, 4)) assert.equal(await store.get(cidForChunk(b)), b)
  await store.put(cidForChunk(blocks[4]), blocks[4])
  assert.equal(await store.get(cidForChunk(blocks[4])), blocks[4])
  await store.close()
})

Crash('fsck --repair while writes go on (packs rolling) loses nothing and finds nothing', async ({ dir }) => {
  const store = await openLocalStore(dir, { packSizeBytes: 128 * 1024 })
  const blocks = Array.from({ length: 120 }, (_, i) => seededBytes(i + 500, 9_000))
  const writes = (async () => { for (const b of blocks) { await store.put(cidForChunk(b), b); await new Promise((resolve) => setImmediate(resolve)) } })()
  const checks = [] as Array<Awaited<ReturnType<typeof store.fsck>>>
  for (let i = 0; i < 4; i++) checks.push(await store.fsck({ repair: true }))
  await writes
  for (const c of checks) assert.is(c.problems.length, 0, JSON.stringify(c.problems.slice(0, 2)))
  for (const b of blocks) assert.equal(await store.get(cidForChunk(b)), b)
  await store.close()
  const again = await openLocalStore(dir)
  assert.is((await again.fsck()).ok, true)
  for (const b of blocks) assert.equal(await again.get(cidForChunk(b)), b)
  await again.close()
})

Crash('a lost index is rebuilt from the packs on open (pins are not: they live in the index)', async ({ dir }) => {
  let store = await openLocalStore(dir, { packSizeBytes: 256 * 1024 })
  const blocks = Array.from({ length: 30 }, (_, i) => seededBytes(i + 700, 25_000))
  for (const b of blocks) await store.put(cidForChunk(b), b)
  await store.close()
  await rmrf(join(dir, 'index'))
  store = await openLocalStore(dir, { packSizeBytes: 256 * 1024 })
  assert.is(store.recovery.reindexed, blocks.length)
  assert.ok(store.recovery.foundPacks.length >= 2)
  for (const b of blocks) assert.equal(await store.get(cidForChunk(b)), b)
  assert.is((await store.stats()).chunks, blocks.length)
  assert.is((await store.fsck()).ok, true)
  await store.close()
})

Crash('a corrupt index is repaired on open: chunks and pins are all there', async ({ dir }) => {
  let store = await openLocalStore(dir)
  const blocks = Array.from({ length: 40 }, (_, i) => seededBytes(i + 900, 2_000))
  for (const b of blocks) await store.put(cidForChunk(b), b)
  await store.pin('p', cidForChunk(blocks[3]))
  await store.close()
  const manifest = (await readdir(join(dir, 'index'))).find((f) => f.startsWith('MANIFEST-'))
  if (manifest === undefined) throw new Error('no MANIFEST')
  const fh = await open(join(dir, 'index', manifest), 'r+')
  await fh.write(Buffer.alloc(30, 0x41), 0, 30, 10)
  await fh.close()
  store = await openLocalStore(dir)
  assert.is(store.recovery.indexRepaired, true)
  for (const b of blocks) assert.equal(await store.get(cidForChunk(b)), b)
  assert.is(String(await store.resolvePin('p')), String(cidForChunk(blocks[3])))
  assert.is((await store.fsck()).ok, true)
  await store.close()
})

function runWriter (dir: string, args: string[], killAfterAck?: number): Promise<{ acked: number, stored: number, killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let acked = 0; let stored = -1; let buf = ''
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString()
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl); buf = buf.slice(nl + 1)
        const m = /^acked (\d+)/.exec(line)
        if (m !== null) acked = Number(m[1])
        const done = /^done stored (\d+)/.exec(line)
        if (done !== null) stored = Number(done[1])
        if (killAfterAck !== undefined && acked >= killAfterAck) setTimeout(() => child.kill('SIGKILL'), Number(m?.[1] ?? 0) % 7)
      }
    })
    child.on('error', reject)
    child.on('close', (code, signal) => { resolve({ acked, stored, killed: signal === 'SIGKILL' || code === null }) })
  })
}

Crash('kill -9 of a writing process: acknowledged chunks survive, the store opens, a re-run stores nothing twice', async ({ dir }) => {
  const first = await runWriter(dir, ['0'], 150)
  assert.ok(first.killed, 'the writer was killed')
  assert.ok(first.acked >= 150)
  const store = await openLocalStore(dir)
  for (let i = 0; i < first.acked; i++) assert.ok(await store.has(cidForChunk(killChunk(i))), `acked chunk ${i} present`)
  const check = await store.fsck()
  assert.is(check.ok, true, JSON.stringify(check.problems.slice(0, 3)))
  const before = await store.stats()
  let present = 0
  const total = first.acked + 100
  for (let i = 0; i < total; i++) if (await store.has(cidForChunk(killChunk(i)))) present++
  await store.close()
  const rerun = await runWriter(dir, ['0', String(total)])
  assert.is(rerun.stored, total - present, 'only the absent chunks were stored')
  const after = await openLocalStore(dir)
  const s = await after.stats()
  assert.is(s.chunks, before.chunks + total - present)
  for (let i = 0; i < total; i++) assert.equal(await after.get(cidForChunk(killChunk(i))), killChunk(i))
  assert.is((await after.fsck()).ok, true)
  await after.close()
})

Crash.run()
