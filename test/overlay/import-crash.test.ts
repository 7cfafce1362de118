import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { openLocalStore } from '../../src/cas/index.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

const BIN = new URL('../../../bin/xeno', import.meta.url).pathname

/** ~36 MB in 1,200 files of 3-57 KB (half text, half random): many frames, several write-behinds. */
function makeTree (dir: string): void {
  for (let d = 0; d < 40; d++) {
    const sub = join(dir, `d${d}`)
    mkdirSync(sub)
    for (let f = 0; f < 30; f++) {
      const i = d * 30 + f
      const size = 3_000 + ((i * 7919) % 54_000)
      const bytes = i % 2 === 0
        ? Buffer.from(`file ${i} line of text that repeats with its number ${i % 17}\n`.repeat(size / 50)).subarray(0, size)
        : seededBytes(i + 1, size)
      writeFileSync(join(sub, `f${f}`), bytes)
    }
  }
}

function importJson (store: string, src: string): { root: string, duplicateChunks: number, newChunks: number } {
  const r = spawnSync(process.execPath, [BIN, 'template', 'import', src, '--store', store, '--name', 't', '--json'], { encoding: 'utf8' })
  assert.is(r.status, 0, r.stderr)
  return JSON.parse(r.stdout)
}

async function packBytes (store: string): Promise<number> {
  let n = 0
  try {
    for (const f of await readdir(join(store, 'packs'))) n += (await stat(join(store, 'packs', f))).size
  } catch { return 0 }
  return n
}

/** Starts an import and kills it with SIGKILL once its packs hold `bytes` (or it ends first). */
async function importAndKill (store: string, src: string, bytes: number): Promise<boolean> {
  const child = spawn(process.execPath, [BIN, 'template', 'import', src, '--store', store, '--json'], { stdio: 'ignore' })
  let exited = false
  const done = new Promise<void>((resolve) => child.on('close', () => { exited = true; resolve() }))
  while (!exited && await packBytes(store) < bytes) await new Promise((resolve) => setTimeout(resolve, 5))
  const killed = !exited && child.kill('SIGKILL')
  await done
  return killed
}

const Crash = suite<{ dir: string, src: string }>('import killed with SIGKILL')
Crash.before(async (ctx) => {
  ctx.dir = await tmpdir()
  ctx.src = join(ctx.dir, 'src')
  mkdirSync(ctx.src)
  makeTree(ctx.src)
})
Crash.after(async (ctx) => { await rmrf(ctx.dir) })

Crash('kill -9 in the middle of writing frames, then a re-run: same root, a sound store, nothing stored twice', async ({ dir, src }) => {
  const clean = importJson(join(dir, 'clean'), src)
  const store = join(dir, 'store')
  const killed = await importAndKill(store, src, 8 * 1024 * 1024)
  assert.ok(killed, 'the import was killed before it finished')
  const opened = await openLocalStore(store) // recovery re-indexes whole frames past the indexed tail, cuts a torn one
  const first = await opened.fsck()
  await opened.close()
  assert.is(first.ok, true, JSON.stringify(first.problems.slice(0, 3)))
  const again = importJson(store, src)
  assert.is(again.root, clean.root)
  assert.is(again.duplicateChunks, 0)
  const s = await openLocalStore(store)
  try {
    const check = await s.fsck()
    assert.is(check.ok, true, JSON.stringify(check.problems.slice(0, 3)))
    assert.is(check.missing, 0)
    assert.is(check.garbageRecords, 0, 'no block is stored twice')
    const c = await openLocalStore(join(dir, 'clean'))
    try {
      assert.is((await s.stats()).chunks, (await c.stats()).chunks)
    } finally { await c.close() }
  } finally { await s.close() }
})

Crash.run()
