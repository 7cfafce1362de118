import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { commitLayer } from '../../src/overlay/commit.js'
import { openTree } from '../../src/overlay/tree.js'
import { openUnionView } from '../../src/overlay/union-view.js'
import { openWritableLayer } from '../../src/overlay/writable.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { buildTree, dump, type Spec } from './union-helpers.js'

const Cases = suite('whiteout and opaque cases')

async function view (...specs: Spec[]): Promise<Awaited<ReturnType<typeof openUnionView>>> {
  const store = new MemoryChunkStore()
  const lowers = []
  for (const spec of specs) lowers.push(openTree(store, await buildTree(store, spec)))
  return await openUnionView({ lowers, store })
}

const base: Spec = { '/d/a': 'a', '/d/b': 'b', '/d/sub/c': 'c', '/f': 'f' }

Cases('a whiteout for a name no lower layer has changes nothing', async () => {
  assert.equal(await dump(await view({ '/d/zzz': { whiteout: true } }, base)), await dump(await view(base)))
})

Cases('an opaque directory in a middle layer hides only the layers below it', async () => {
  const v = await view({ '/d/top': 't' }, { '/d': { dir: true, opaque: true }, '/d/mid': 'm' }, base)
  assert.equal(Object.keys(await dump(v, '/d')), ['/d/mid', '/d/top'])
})

Cases('an opaque root replaces everything below', async () => {
  const v = await view({ '/': { dir: true, opaque: true }, '/only': 'o' }, base)
  assert.equal(await dump(v), { '/only': 'file 644 o' })
})

Cases('a whiteout then a new object of another kind in a higher layer', async () => {
  const v = await view({ '/d': 'file now' }, { '/d': { whiteout: true } }, base)
  assert.is((await v.statRequired('/d')).kind, 'file')
  const w = await view({ '/d': { dir: true }, '/d/new': 'n' }, { '/d': { whiteout: true } }, base)
  assert.equal(Object.keys(await dump(w, '/d')), ['/d/new'], 'the whiteout below cuts the merge: no opaque flag needed')
})

Cases('a whiteout of a directory also hides it in every lower layer', async () => {
  const v = await view({ '/d': { whiteout: true } }, { '/d/x': 'x' }, base)
  assert.is(await v.stat('/d'), undefined)
  assert.is(await v.stat('/d/x'), undefined)
})

const Upper = suite<{ dir: string, store: MemoryChunkStore, base: import('multiformats/cid').CID }>('writable layer whiteouts, opaque dirs and commit')
Upper.before.each(async (ctx) => { ctx.dir = await tmpdir(); ctx.store = new MemoryChunkStore(); ctx.base = await buildTree(ctx.store, base) })
Upper.after.each(async (ctx) => { await rmrf(ctx.dir) })

Upper('only names a lower layer shows get whiteouts; commit keeps whiteouts and opaque flags', async ({ dir, store, base: b }) => {
  const layer = await openWritableLayer(dir)
  const v = await openUnionView({ lowers: [openTree(store, b)], store, writable: layer })
  await v.create('/d/new')
  await v.unlink('/d/new')
  await v.unlink('/d/a')
  await v.unlink('/d/sub/c')
  await v.rmdir('/d/sub')
  await v.mkdir('/d/sub')
  await v.create('/d/sub/fresh')
  await v.rename('/d', '/e')
  const keys: string[] = []
  for await (const [k] of layer.kv.range('d:', 'd;')) keys.push(k.slice(2).replace('\0', ' '))
  assert.not.ok(keys.includes('/d new'), 'no whiteout for a name only the writable layer had')
  const { root } = await commitLayer(layer.kv, store, store, { rootFallback: await openTree(store, b).rootEntry() })
  const overlay = openTree(store, root)
  assert.is((await overlay.stat('/d'))?.kind, 'whiteout')
  assert.is((await overlay.stat('/e'))?.opaque, true, 'a renamed directory is complete and opaque')
  assert.is((await overlay.stat('/e/sub'))?.opaque, true)
  const all = await openUnionView({ lowers: [overlay, openTree(store, b)], store })
  assert.equal(await dump(all), await dump(v))
  assert.equal(Object.keys(await dump(all)), ['/e', '/e/b', '/e/sub', '/e/sub/fresh', '/f'])
  await v.close(); await layer.close()
})

Upper('a directory made where a lower one was removed is opaque, and empty', async ({ dir, store, base: b }) => {
  const layer = await openWritableLayer(dir)
  const v = await openUnionView({ lowers: [openTree(store, b)], store, writable: layer })
  for (const p of ['/d/a', '/d/b', '/d/sub/c']) await v.unlink(p)
  await v.rmdir('/d/sub')
  await v.rmdir('/d')
  await v.mkdir('/d')
  assert.equal(await dump(v, '/d'), {})
  const { root } = await commitLayer(layer.kv, store, store)
  assert.is((await openTree(store, root).stat('/d'))?.opaque, true)
  await v.close(); await layer.close()
})

Cases.run()
Upper.run()
