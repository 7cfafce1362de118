import { randomFillSync } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { openTree } from '../../src/overlay/tree.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

// The import holds back results while many finished files wait for the walk to claim them
// (ingest/pool.ts MAX_UNCLAIMED_FILES). A subdirectory named before 20,000 files makes the walk
// wait for that subdirectory's listing while the threads finish the files after it, and the
// walker posts that listing only once the threads have taken most of the files queued before
// it: holding results back then (the threads stop on credit) must not stall the import.
const Lag = suite<{ dir: string }>('import: the walk waiting for a listing')
Lag.before(async (ctx) => {
  ctx.dir = await tmpdir()
  const src = join(ctx.dir, 'src')
  mkdirSync(join(src, 'a'), { recursive: true })
  writeFileSync(join(src, 'a', 'x'), 'in the first subdirectory\n')
  const bytes = Buffer.alloc(4096)
  for (let i = 0; i < 20_000; i++) {
    randomFillSync(bytes) // incompressible: the threads' credit (16 MiB) runs out
    writeFileSync(join(src, `f${String(i).padStart(5, '0')}`), bytes)
  }
})
Lag.after(async (ctx) => { await rmrf(ctx.dir) })

Lag('20,000 files after a subdirectory import completely', async ({ dir }) => {
  const store = new MemoryChunkStore()
  let timer: NodeJS.Timeout | undefined
  const stalled = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error('the import stalled for 120 s')) }, 120_000) })
  try {
    const r = await Promise.race([importDirectory(join(dir, 'src'), store), stalled])
    assert.is(r.files, 20_001)
    const tree = openTree(store, r.root)
    let entries = 0
    for await (const e of tree.readdir(await tree.statRequired('/'))) { entries++; if (e.kind === 'file') assert.is(e.size, 4096) }
    assert.is(entries, 20_001)
    assert.is((await tree.statRequired('/a/x')).kind, 'file')
  } finally { clearTimeout(timer) }
})

Lag.run()
