import { spawn } from 'node:child_process'
import * as fs from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { openLocalStore } from '../../src/cas/store/local.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { openTree } from '../../src/overlay/tree.js'
import { openUnionView } from '../../src/overlay/union-view.js'
import { checkWritableLayer } from '../../src/overlay/writable-check.js'
import { openWritableLayer } from '../../src/overlay/writable.js'
import { seededBytes, seededRandom } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { expectedContent } from './writable-crash-data.js'
import type { ReadView } from '../../src/overlay/view.js'

const Crash = suite('writable layer crash safety')
const CHILD = join(fileURLToPath(new URL('.', import.meta.url)), 'writable-crash-child.js')

/** Runs the child until it is busy, then kills it with SIGKILL after `ms`. */
async function runAndKill (args: string[], ms: number): Promise<void> {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve() })
    child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)))
  })
  await new Promise((resolve) => setTimeout(resolve, ms))
  child.removeAllListeners('exit')
  const exited = new Promise((resolve) => child.on('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

/** Every file is readable and holds a prefix of what the child wrote to it; returns the highest number. */
async function verify (view: ReadView, path = '/', seen = { max: 0, files: 0 }): Promise<{ max: number, files: number }> {
  for await (const { name, attrs } of view.readdir(path)) {
    const p = path === '/' ? `/${name}` : `${path}/${name}`
    if (attrs.kind === 'dir') { await verify(view, p, seen); continue }
    const bytes = await view.read(p, 0, attrs.size)
    assert.is(bytes.length, attrs.size, p)
    const m = /^f(\d+)$/.exec(name)
    if (m === null) continue
    const i = Number(m[1])
    const want = expectedContent(i)
    assert.ok(Buffer.from(bytes).equals(Buffer.from(want.subarray(0, bytes.length))), `${p} holds a prefix of its content`)
    seen.max = Math.max(seen.max, i)
    seen.files++
  }
  return seen
}

Crash('kill -9 at random moments leaves a consistent layer, every time', async () => {
  const top = await tmpdir()
  try {
    const src = join(top, 'src')
    await fs.mkdir(join(src, 'lower'), { recursive: true })
    await fs.writeFile(join(src, 'lower/big'), seededBytes(9, 600_000))
    const storeDir = join(top, 'store')
    let store = await openLocalStore(storeDir)
    const base = (await importDirectory(src, store, { workers: 1 })).root
    await store.close()
    const layerDir = join(top, 'layer')
    const rnd = seededRandom(42)
    let next = 1
    for (let round = 0; round < 4; round++) {
      await runAndKill([storeDir, layerDir, base.toString(), String(next)], 150 + Math.floor(rnd() * 500))
      store = await openLocalStore(storeDir)
      const layer = await openWritableLayer(layerDir)
      try {
        assert.equal(await checkWritableLayer(layer.kv, store), [], `round ${round}: layer invariants`)
        const view = await openUnionView({ lowers: [openTree(store, base)], store, writable: layer })
        const seen = await verify(view)
        assert.ok(seen.files > 0, 'the child got some work done')
        next = seen.max + 10
        await view.close()
      } finally { await layer.close(); await store.close() }
    }
  } finally { await rmrf(top) }
})

Crash.run()
