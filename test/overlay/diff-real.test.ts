import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { openLocalStore } from '../../src/cas/store/local.js'
import { diffTrees } from '../../src/overlay/diff.js'
import { exportDirectory } from '../../src/overlay/export-dir.js'
import { flattenUnion } from '../../src/overlay/flatten.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { openTree } from '../../src/overlay/tree.js'
import { Union } from '../../src/overlay/union.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

// The round trip on real data (bench/make-datasets.sh): a debootstrap minbase and the
// same tree after `apt-get install apache2`. About a minute (imports, export of 320 MB), so it
// runs only with XENO_REAL_DATA=1 and where the data set exists.
const BASE = '/work/data/t1'
const TARGET = '/work/data/t1-apache'
const Real = suite('overlay diff on real data')

Real('diff t1-apache against t1; the union of both, exported, imports to the same root', async () => {
  if (process.env.XENO_REAL_DATA !== '1' || !existsSync(BASE) || !existsSync(TARGET)) { console.log('  (skipped: set XENO_REAL_DATA=1 with /work/data present)'); return }
  const dir = await tmpdir()
  try {
    const store = await openLocalStore(join(dir, 'store'))
    const base = (await importDirectory(BASE, store)).root
    const target = (await importDirectory(TARGET, store)).root
    const { root, stats } = await diffTrees(openTree(store, base), openTree(store, target), store)
    assert.ok(stats.added > 0 && stats.skipped > 0)
    const union = await flattenUnion(new Union([openTree(store, root), openTree(store, base)]), store)
    assert.ok(union.equals(target), 'flattened union has the root CID of the direct import')
    await exportDirectory(store, union, join(dir, 'out'))
    const again = (await importDirectory(join(dir, 'out'), store)).root
    assert.ok(again.equals(target), `exported union re-imports as ${again}, the apache tree is ${target}`)
    await store.close()
  } finally { await rmrf(dir) }
})

Real.run()
