import * as fs from 'node:fs/promises'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { diffTrees } from '../../src/overlay/diff.js'
import { flattenUnion } from '../../src/overlay/flatten.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { openTree } from '../../src/overlay/tree.js'
import { Union } from '../../src/overlay/union.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { buildTree, type Spec } from './union-helpers.js'

const Diff = suite('overlay diff')

const base: Spec = {
  '/etc/passwd': 'root', '/etc/hosts': 'localhost', '/etc/gone': 'bye', '/etc/skel/.bashrc': 'rc',
  '/bin/sh': 'elf', '/usr/share/doc/a': 'doc a', '/usr/share/doc/b': 'doc b', '/var/lib/x': 'file', '/opt': 'was a file',
  '/srv/www/index.html': 'hi'
}
const target: Spec = {
  '/etc/passwd': 'root:x', '/etc/hosts': { content: 'localhost', mode: 0o600 }, '/etc/skel/.bashrc': 'rc', '/etc/added': 'new',
  '/bin/sh': 'elf', '/usr/share/doc/a': 'doc a', '/usr/share/doc/b': 'doc b', '/var/lib/x': { dir: true }, '/var/lib/x/y': 'in dir',
  '/opt/app/run': 'app', '/srv': { dir: true, mode: 0o700 }, '/srv/www/index.html': 'hi'
}

Diff('every kind of change: union(base, overlay) is exactly the target', async () => {
  const store = new MemoryChunkStore()
  const b = await buildTree(store, base)
  const t = await buildTree(store, target)
  const { root, stats } = await diffTrees(openTree(store, b), openTree(store, t), store)
  assert.equal(stats, { added: 1, changed: 1, metadata: 2, whiteouts: 1, opaque: 2, skipped: 4 })
  const overlay = openTree(store, root)
  assert.is((await overlay.stat('/etc/gone'))?.kind, 'whiteout')
  assert.is((await overlay.stat('/var/lib/x'))?.opaque, true)
  assert.is(await overlay.stat('/usr'), undefined, 'unchanged subtrees are not in the overlay')
  assert.is(await overlay.stat('/etc/skel'), undefined)
  const hosts = await overlay.stat('/etc/hosts')
  assert.ok(hosts?.cid?.equals((await openTree(store, b).stat('/etc/hosts'))!.cid!), 'a chmod reuses the content CID')
  assert.is((await overlay.stat('/srv'))?.mode, 0o700)
  const flat = await flattenUnion(new Union([overlay, openTree(store, b)]), store)
  assert.ok(flat.equals(t), `flattened union ${flat} equals target ${t}`)
})

Diff('identical trees give an empty overlay', async () => {
  const store = new MemoryChunkStore()
  const b = await buildTree(store, base)
  const { root, stats } = await diffTrees(openTree(store, b), openTree(store, b), store)
  const names: string[] = []
  const tree = openTree(store, root)
  for await (const e of tree.readdir(await tree.rootEntry())) names.push(e.name)
  assert.equal(names, [])
  assert.is(stats.skipped, 1)
})

Diff('real directories: union of base and diff equals importing the modified tree', async () => {
  const a = await tmpdir()
  const store = new MemoryChunkStore()
  try {
    for (const d of ['usr/lib', 'usr/share/doc/pkg', 'etc/apt', 'var/cache']) await fs.mkdir(join(a, d), { recursive: true })
    await fs.writeFile(join(a, 'usr/lib/big.so'), seededBytes(1, 600_000))
    await fs.writeFile(join(a, 'etc/apt/sources.list'), 'deb x')
    await fs.writeFile(join(a, 'var/cache/old'), 'old')
    await fs.symlink('lib', join(a, 'usr/lib64'))
    const before = (await importDirectory(a, store, { workers: 1 })).root
    const big = seededBytes(1, 600_000)
    big.set([1, 2, 3], 300_000)
    await fs.writeFile(join(a, 'usr/lib/big.so'), big)
    await fs.writeFile(join(a, 'usr/share/doc/pkg/README'), 'new')
    await fs.rm(join(a, 'var/cache'), { recursive: true })
    await fs.chmod(join(a, 'etc/apt/sources.list'), 0o600)
    await fs.link(join(a, 'etc/apt/sources.list'), join(a, 'etc/apt/hard'))
    const after = (await importDirectory(a, store, { workers: 1 })).root
    const { root } = await diffTrees(openTree(store, before), openTree(store, after), store)
    const flat = await flattenUnion(new Union([openTree(store, root), openTree(store, before)]), store)
    assert.ok(flat.equals(after))
  } finally { await rmrf(a) }
})

Diff.run()
