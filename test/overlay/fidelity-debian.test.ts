import { execFileSync } from 'node:child_process'
import { createReadStream, existsSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { openLocalStore } from '../../src/cas/store/local.js'
import { exportDirectory } from '../../src/overlay/export-dir.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { importTar } from '../../src/overlay/import-tar.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

/**
 * Opt-in (minutes, needs a debootstrap tree): XENO_TEST_DEBIAN=/work/data/t1 runs a real Debian
 * root file-system through import, export and rsync -aHAX --checksum; DIR.tar, when present,
 * must give the same root. bench/data/make-datasets.sh makes both.
 */
const TREE = process.env.XENO_TEST_DEBIAN
const Debian = suite<{ dir: string }>('Debian root file-system round trip (opt-in: XENO_TEST_DEBIAN=DIR)')
const enabled = TREE !== undefined && TREE !== ''
const test = enabled ? Debian : Debian.skip
// The runner counts a file with no test run as failed: say plainly that this one is opt-in.
if (!enabled) Debian('not run: set XENO_TEST_DEBIAN=DIR (a debootstrap tree) to run the Debian round trip', () => {})

Debian.before(async (ctx) => { ctx.dir = await tmpdir() })
Debian.after(async (ctx) => { await rmrf(ctx.dir) })

test('imports, exports back identical, re-imports storing nothing, and its tar has the same root', async ({ dir }) => {
  const tree = TREE!
  const store = await openLocalStore(join(dir, 'store'))
  try {
    const a = await importDirectory(tree, store)
    await store.flush()
    const before = await store.stats()
    await exportDirectory(store, a.root, join(dir, 'out'))
    const diff = execFileSync('rsync', ['-aHAXn', '--checksum', '--itemize-changes', `${tree}/`, `${join(dir, 'out')}/`], { encoding: 'utf8', maxBuffer: 64 << 20 })
    assert.is(diff, '')
    const b = await importDirectory(tree, store)
    await store.flush()
    assert.ok(b.root.equals(a.root))
    assert.is((await store.stats()).chunks, before.chunks)
    if (existsSync(`${tree}.tar`)) {
      const t = await importTar(createReadStream(`${tree}.tar`, { highWaterMark: 1 << 20 }), store)
      assert.ok(t.root.equals(a.root), `${tree}.tar gives ${t.root}, the directory ${a.root}`)
    }
  } finally {
    await store.close()
  }
})

Debian.run()
