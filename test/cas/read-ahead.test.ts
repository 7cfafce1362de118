import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { CID } from 'multiformats/cid'
import { cidForChunk, openLocalStore, type Block, type LocalStore } from '../../src/cas/index.js'
import { payloadPosition } from '../../src/cas/store/pack-format.js'
import { rejects } from '../helpers/assert.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

const Ahead = suite<{ dir: string, store: LocalStore }>('LocalStore.readAhead')
Ahead.before.each(async (ctx) => { ctx.dir = await tmpdir(); ctx.store = await openLocalStore(ctx.dir) })
Ahead.after.each(async (ctx) => { await ctx.store.close(); await rmrf(ctx.dir) })

/** Text blocks that compress (stored in zstd frames by putMany) and random ones put alone (plain records). */
async function fill (store: LocalStore): Promise<{ framed: Block[], plain: Block[] }> {
  const framed = Array.from({ length: 12 }, (_, i) => new TextEncoder().encode(`block ${i} `.repeat(5_000 + i))).map((bytes) => ({ cid: cidForChunk(bytes), bytes }))
  await store.putMany(framed)
  const plain = Array.from({ length: 3 }, (_, i) => seededBytes(100 + i, 40_000)).map((bytes) => ({ cid: cidForChunk(bytes), bytes }))
  for (const b of plain) await store.put(b.cid, b.bytes)
  await store.flush()
  return { framed, plain }
}

async function collect (store: LocalStore, cids: CID[]): Promise<Map<string, Uint8Array>> {
  const got = new Map<string, Uint8Array>()
  for await (const b of store.readAhead(cids)) got.set(b.cid.toString(), b.bytes)
  return got
}

Ahead('reads framed and plain blocks off the event loop, verified, and leaves out what it lacks', async ({ store }) => {
  const { framed, plain } = await fill(store)
  assert.ok((await store.stats({ frames: true })).frames! > 0, 'some blocks are in frames')
  const absent = cidForChunk(seededBytes(999, 10))
  const all = [...framed, ...plain]
  const got = await collect(store, [...all.map((b) => b.cid), absent])
  assert.is(got.size, all.length)
  for (const b of all) assert.equal(got.get(b.cid.toString()), b.bytes, `${b.cid}`)
  assert.not.ok(got.has(absent.toString()))
  // Part of a frame's members, in another order.
  const some = [framed[5]!, framed[1]!, plain[2]!]
  const part = await collect(store, some.map((b) => b.cid))
  assert.equal([...part.keys()].sort(), some.map((b) => b.cid.toString()).sort())
})

Ahead('a corrupt record yields none of its blocks; get() then reports it', async ({ dir, store }) => {
  const { framed, plain } = await fill(store)
  for (const victim of [framed[3]!, plain[1]!]) {
    const e = (await store.locate(victim.cid))!.entry!
    const fh = await open(join(dir, 'packs', `${String(e.pack).padStart(6, '0')}.pack`), 'r+')
    const at = payloadPosition(e, victim.cid.bytes.length) + 40
    const one = Buffer.alloc(1)
    await fh.read(one, 0, 1, at)
    await fh.write(Buffer.from([one[0]! ^ 0xff]), 0, 1, at)
    await fh.close()
  }
  const got = await collect(store, [...framed, ...plain].map((b) => b.cid))
  assert.not.ok(got.has(framed[3]!.cid.toString()), 'the corrupt frame member is left out')
  assert.not.ok(got.has(plain[1]!.cid.toString()), 'the corrupt plain block is left out')
  for (const [k, bytes] of got) assert.equal(bytes, [...framed, ...plain].find((b) => b.cid.toString() === k)!.bytes)
  assert.ok(got.has(plain[0]!.cid.toString()) && got.has(plain[2]!.cid.toString()), 'the other records still read')
  await rejects(store.get(plain[1]!.cid), 'CAS_CHUNK_INVALID')
  await rejects(store.get(framed[3]!.cid), 'CAS_CHUNK_INVALID')
})

Ahead.run()
