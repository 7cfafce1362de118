import * as fs from 'node:fs/promises'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { commitLayer } from '../../src/overlay/commit.js'
import { diffTrees } from '../../src/overlay/diff.js'
import { checkWritableLayer } from '../../src/overlay/writable-check.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { openTree } from '../../src/overlay/tree.js'
import { openUnionView, type UnionView } from '../../src/overlay/union-view.js'
import { openWritableLayer } from '../../src/overlay/writable.js'
import { seededBytes, seededRandom } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { dump } from './union-helpers.js'

const Model = suite('model: union with a writable layer behaves like a real directory')

/** Maps an errno of the real file system to the view's error code. */
const CODE: Record<string, string> = {
  ENOENT: 'OVERLAY_NOT_FOUND', ENOTDIR: 'OVERLAY_NOT_DIR', EISDIR: 'OVERLAY_IS_DIR', EEXIST: 'OVERLAY_EXISTS',
  ENOTEMPTY: 'OVERLAY_NOT_EMPTY', EINVAL: 'OVERLAY_BAD_PATH', EPERM: 'OVERLAY_IS_DIR'
}

async function outcome (p: Promise<unknown>, map = false): Promise<string> {
  try { await p; return 'ok' } catch (err) {
    const code = (err as { code?: string }).code ?? String(err)
    return map ? (CODE[code] ?? code) : code
  }
}

async function throughSymlink (root: string, path: string): Promise<boolean> {
  const names = path.split('/')
  for (let i = 1; i < names.length; i++) {
    const st = await fs.lstat(join(root, ...names.slice(0, i))).catch(() => undefined)
    if (st?.isSymbolicLink() === true) return true
  }
  return false
}

async function listReal (root: string, rel = ''): Promise<Array<{ path: string, dir: boolean }>> {
  const out: Array<{ path: string, dir: boolean }> = []
  for (const d of await fs.readdir(join(root, rel), { withFileTypes: true })) {
    const path = rel === '' ? d.name : `${rel}/${d.name}`
    out.push({ path, dir: d.isDirectory() })
    if (d.isDirectory()) out.push(...await listReal(root, path))
  }
  return out
}

async function seed (dir: string): Promise<void> {
  for (const d of ['a', 'a/b', 'c', 'c/d', 'e']) await fs.mkdir(join(dir, d))
  for (const [f, n] of [['a/x', 10], ['a/b/y', 200_000], ['c/z', 0], ['c/d/w', 5000], ['top', 70_000]] as const) {
    await fs.writeFile(join(dir, f), seededBytes(n + 1, n))
  }
  await fs.symlink('a/x', join(dir, 'sl'))
}

async function runModel (seedNo: number, steps: number, stacked = false): Promise<void> {
  const real = await tmpdir()
  const wdir = await tmpdir()
  const store = new MemoryChunkStore()
  await seed(real)
  let base = (await importDirectory(real, store, { workers: 1 })).root
  let lowers = [openTree(store, base)]
  if (stacked) {
    // Two lower layers: the seed, and an overlay (by diff) with whiteouts and an opaque dir.
    await fs.rm(join(real, 'a/x'))
    await fs.rm(join(real, 'c/d'), { recursive: true })
    await fs.writeFile(join(real, 'c/d'), 'now a file')
    await fs.rm(join(real, 'e'), { recursive: true })
    await fs.writeFile(join(real, 'e'), 'x')
    await fs.rm(join(real, 'e'))
    await fs.mkdir(join(real, 'e'))
    await fs.writeFile(join(real, 'e/new'), seededBytes(99, 90_000))
    await fs.writeFile(join(real, 'a/b/y'), seededBytes(98, 210_000))
    const next = (await importDirectory(real, store, { workers: 1 })).root
    const overlay = (await diffTrees(openTree(store, base), openTree(store, next), store)).root
    lowers = [openTree(store, overlay), openTree(store, base)]
    base = next
  }
  let layer = await openWritableLayer(wdir)
  let view: UnionView = await openUnionView({ lowers, store, writable: layer })
  const rnd = seededRandom(seedNo)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]
  const names = ['a', 'b', 'c', 'x', 'y', 'new', 'e', 'top']
  const randPath = (): string => Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(names)).join('/')
  let succeeded = 0
  try {
    for (let step = 0; step < steps; step++) {
      if (step % 60 === 59) {
        // Everything must survive closing and reopening the layer.
        await view.close(); await layer.close()
        layer = await openWritableLayer(wdir)
        view = await openUnionView({ lowers, store, writable: layer })
      }
      const existing = await listReal(real)
      const dirs = ['', ...existing.filter((e) => e.dir).map((e) => e.path)]
      const choose = (): string => {
        const x = rnd()
        if (x < 0.5 && existing.length > 0) return pick(existing).path
        if (x < 0.9) { const d = pick(dirs); return d === '' ? pick(names) : `${d}/${pick(names)}` }
        return randPath()
      }
      const p = choose()
      const q = choose()
      const r = join(real, p)
      // The view follows no symlink (NFS clients resolve them); keep the real kernel from doing so.
      if (await throughSymlink(real, p) || await throughSymlink(real, q)) continue
      const op = pick(['create', 'write', 'write', 'truncate', 'mkdir', 'rmdir', 'unlink', 'rename', 'rename', 'symlink', 'chmod', 'link'])
      let want: string
      let got: string
      switch (op) {
        case 'create':
          want = await outcome((async () => { const h = await fs.open(r, 'wx'); await h.close(); await fs.chmod(r, 0o640) })(), true)
          got = await outcome(view.create('/' + p, { mode: 0o640 }))
          break
        case 'write': {
          const data = seededBytes(step, Math.floor(rnd() * (rnd() < 0.2 ? 400_000 : 3000)))
          const off = Math.floor(rnd() * 300_000)
          want = await outcome((async () => {
            if (!(await fs.lstat(r)).isFile()) throw Object.assign(new Error('x'), { code: (await fs.lstat(r)).isDirectory() ? 'EISDIR' : 'EINVAL' })
            const h = await fs.open(r, 'r+'); await h.write(data, 0, data.length, off); await h.close()
          })(), true)
          got = await outcome(view.write('/' + p, off, data))
          if (want === 'OVERLAY_BAD_PATH') want = 'OVERLAY_INVALID'
          break
        }
        case 'truncate': {
          const size = Math.floor(rnd() * 400_000)
          want = await outcome((async () => { if ((await fs.lstat(r)).isSymbolicLink()) throw Object.assign(new Error(), { code: 'SKIP' }); await fs.truncate(r, size) })(), true)
          if (want === 'SKIP') continue
          got = await outcome(view.setattr('/' + p, { size }))
          break
        }
        case 'mkdir':
          want = await outcome((async () => { await fs.mkdir(r); await fs.chmod(r, 0o750) })(), true)
          got = await outcome(view.mkdir('/' + p, { mode: 0o750 }))
          break
        case 'rmdir': want = await outcome(fs.rmdir(r), true); got = await outcome(view.rmdir('/' + p)); break
        case 'unlink': want = await outcome(fs.unlink(r), true); got = await outcome(view.unlink('/' + p)); break
        case 'rename': want = await outcome(fs.rename(r, join(real, q)), true); got = await outcome(view.rename('/' + p, '/' + q)); break
        case 'symlink': want = await outcome(fs.symlink(q, r), true); got = await outcome(view.symlink('/' + p, q)); break
        case 'chmod':
          want = await outcome((async () => { if ((await fs.lstat(r)).isSymbolicLink()) throw Object.assign(new Error(), { code: 'SKIP' }); await fs.chmod(r, 0o600) })(), true)
          if (want === 'SKIP') continue
          got = await outcome(view.setattr('/' + p, { mode: 0o600 }))
          break
        default:
          want = await outcome(fs.link(r, join(real, q)), true)
          got = await outcome(view.link('/' + p, '/' + q))
      }
      assert.is(got, want, `step ${step}: ${op} ${p} ${q}`)
      if (got === 'ok') succeeded++
    }
    assert.ok(succeeded > steps / 6, `only ${succeeded} of ${steps} operations succeeded`)
    const fromReal = await openUnionView({ lowers: [openTree(store, (await importDirectory(real, store, { workers: 1 })).root)], store })
    const expected = await dump(fromReal)
    assert.equal(await dump(view), expected, 'union view equals the real directory')
    assert.equal(await checkWritableLayer(layer.kv, store), [], 'writable layer invariants')
    const committed = await commitLayer(layer.kv, store, store, { rootFallback: await openTree(store, base).rootEntry() })
    const all = await openUnionView({ lowers: [openTree(store, committed.root), ...lowers], store })
    assert.equal(await dump(all), expected, 'committed overlay over its base equals the real directory')
  } finally {
    await view.close(); await layer.close(); await rmrf(real); await rmrf(wdir)
  }
}

for (const seedNo of [1, 2, 3, 4, 5, 6]) {
  Model(`random operation sequence, seed ${seedNo}`, async () => { await runModel(seedNo, 250) })
}
for (const seedNo of [7, 8, 9]) {
  Model(`random operation sequence over two lower layers, seed ${seedNo}`, async () => { await runModel(seedNo, 250, true) })
}

Model.run()
