import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { openLocalStore } from '../../src/cas/store/local.js'
import { openLayerView, resolveLayerRoot, resolveViewRoot } from '../../src/cli/view.js'
import { diffTrees } from '../../src/overlay/diff.js'
import { openTree } from '../../src/overlay/tree.js'
import { openUnionView } from '../../src/overlay/union-view.js'
import { openWritableLayer } from '../../src/overlay/writable.js'
import { rejects } from '../helpers/assert.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { buildTree, dump } from './union-helpers.js'

const Cli = suite('src/cli/view.ts: --layer stacks')

Cli('layer references, flattening a stack, and a view with a writable top and a .mount', async () => {
  const dir = await tmpdir()
  try {
    const store = await openLocalStore(join(dir, 'store'))
    const base = await buildTree(store, { '/etc/passwd': 'root', '/etc/hosts': 'h', '/opt/.mount': 'template://app' })
    const target = await buildTree(store, { '/etc/passwd': 'root:x', '/opt/.mount': 'template://app', '/srv/a': 'a' })
    const app = await buildTree(store, { '/bin/app': 'v1' })
    const overlay = (await diffTrees(openTree(store, base), openTree(store, target), store)).root
    await store.pin('t1', base)
    await store.pin('app', app)
    for (const ref of [base.toString(), `cas://${base.toString()}`, 't1', 'template://t1', `template://t1@${base.toString()}`]) {
      assert.ok((await resolveLayerRoot(store, ref)).equals(base), ref)
    }
    await rejects(resolveLayerRoot(store, 'template://nope'), 'CAS_PIN_NOT_FOUND')
    const flat = await resolveViewRoot(store, { layer: [overlay.toString(), 't1'] }, '/etc')
    assert.ok(flat.root.equals(target), 'the flattened stack is the target tree')
    assert.is(flat.path, '/etc')
    const plain = await resolveViewRoot(store, {}, 't1:/etc')
    assert.ok(plain.root.equals(base))
    assert.is(plain.path, '/etc')
    const layerDir = join(dir, 'layer')
    const w = await openWritableLayer(layerDir)
    const wv = await openUnionView({ lowers: [openTree(store, overlay), openTree(store, base)], store, writable: w })
    await wv.create('/srv/b')
    await wv.close(); await w.close()
    const v = await openLayerView(store, [layerDir, overlay.toString(), 't1'])
    assert.is(v.view.readOnly, false)
    assert.equal(Object.keys(await dump(v.view, '/srv')), ['/srv/a', '/srv/b'])
    assert.is(Buffer.from(await v.view.read('/opt/bin/app', 0, 9)).toString(), 'v1', '.mount resolved through pins')
    await v.close()
    await store.close()
  } finally { await rmrf(dir) }
})

Cli.run()
