import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore, openLocalStore } from '../../src/cas/index.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

/** 300 small files, each of 20 distinct contents repeated 15 times, plus a 3 MB file split across workers. */
function makeTree (dir: string): void {
  for (let d = 0; d < 10; d++) {
    const sub = join(dir, `d${d}`)
    mkdirSync(sub)
    for (let f = 0; f < 30; f++) {
      const k = (d * 30 + f) % 20
      const text = Buffer.from(`content ${k} `.repeat(200 + k * 50))
      writeFileSync(join(sub, `f${f}`), k % 2 === 0 ? text : Buffer.concat([text, seededBytes(k + 1, 3000)]))
    }
  }
  writeFileSync(join(dir, 'big'), Buffer.concat([seededBytes(7, 1_500_000), Buffer.from('x'.repeat(1_500_000))]))
}

const Frames = suite<{ dir: string, src: string }>('import into frames')
Frames.before(async (ctx) => {
  ctx.dir = await tmpdir()
  ctx.src = join(ctx.dir, 'src')
  mkdirSync(ctx.src)
  makeTree(ctx.src)
})
Frames.after(async (ctx) => { await rmrf(ctx.dir) })

Frames('repeated content is stored once across workers, in frames, with the root of a frameless sink', async ({ dir, src }) => {
  const memory = new MemoryChunkStore()
  const plain = await importDirectory(src, memory, { workers: 2 })
  const store = await openLocalStore(join(dir, 'store'))
  try {
    const lease = store.beginWrite()
    const r = await importDirectory(src, store, { workers: 2, bigFileBytes: 1024 * 1024 })
    assert.is(r.root.toString(), plain.root.toString())
    assert.is(r.duplicateChunks, 0)
    await store.pin('t', r.root)
    lease.release()
    const s = await store.stats({ frames: true })
    assert.ok(s.framedChunks > 0 && (s.frames ?? 0) > 0, JSON.stringify(s))
    const check = await store.fsck()
    assert.is(check.ok, true, JSON.stringify(check.problems.slice(0, 3)))
    assert.is(check.garbageRecords, 0, 'no chunk stored twice')
    assert.is(check.missing, 0)
    assert.is(s.chunks, memory.size, 'the same blocks as the frameless import')
  } finally {
    await store.close()
  }
})

Frames.run()
