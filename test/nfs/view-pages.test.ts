import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/index.js'
import { openTree, openUnionView, type ReadView, type UnionView } from '../../src/overlay/index.js'
import { buildTree, type Spec } from '../overlay/union-helpers.js'

/** Pages of readdirPage (the NFS listing path) must be exactly what readdir yields. */
const Pages = suite('UnionView.readdirPage')

async function all (view: ReadView, path: string, after?: string): Promise<string[]> {
  const names: string[] = []
  for await (const e of view.readdir(path, after)) names.push(`${e.name}:${e.attrs.ino}:${e.attrs.kind}`)
  return names
}

async function paged (view: UnionView, path: string, limit: number): Promise<string[]> {
  const names: string[] = []
  let after: string | undefined
  for (;;) {
    const page = await view.readdirPage(path, after, limit)
    for (const e of page) names.push(`${e.name}:${e.attrs.ino}:${e.attrs.kind}`)
    if (page.length < limit) return names
    after = page[page.length - 1]!.name
  }
}

// 2,500 names: more than one directory node holds (sharded), plus files, a symlink and whiteouts.
const big: Spec = {}
for (let i = 0; i < 2500; i++) big[`many/f${String(i).padStart(5, '0')}`] = `${i}`
const lower: Spec = { ...big, 'etc/passwd': 'root', 'etc/group': 'root', 'etc/gone': 'x', 'bin/sh': { symlink: 'dash' } }
const upper: Spec = { 'etc/hosts': 'localhost', 'etc/gone': { whiteout: true }, 'etc/zz': { whiteout: true } }

Pages('one tree and a union of two give the entries of readdir, page by page and from any resume point', async () => {
  const store = new MemoryChunkStore()
  const low = openTree(store, await buildTree(store, lower))
  const up = openTree(store, await buildTree(store, upper))
  for (const lowers of [[low], [up, low], [up]]) {
    const view = await openUnionView({ lowers, store })
    for (const dir of ['/', '/etc', '/many', '/bin']) {
      const want = await all(view, dir).catch(() => undefined)
      if (want === undefined) continue
      for (const limit of [1, 7, 1000, 5000]) assert.equal(await paged(view, dir, limit), want, `${dir} by ${limit} (${lowers.length} layers)`)
    }
    if (lowers.includes(low)) {
      assert.equal(await view.readdirPage('/many', 'f01234', 3).then((p) => p.map((e) => e.name)), ['f01235', 'f01236', 'f01237'])
      assert.equal((await view.readdirPage('/many', 'f02499', 10)).length, 0)
    }
    await view.close()
  }
})

Pages('a whiteout of a single layer is not listed', async () => {
  const store = new MemoryChunkStore()
  const view = await openUnionView({ lowers: [openTree(store, await buildTree(store, upper))], store })
  assert.equal((await view.readdirPage('/etc', undefined, 100)).map((e) => e.name), ['hosts'])
  await view.close()
})

Pages.run()
