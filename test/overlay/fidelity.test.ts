import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { openLocalStore } from '../../src/cas/store/local.js'
import { exportDirectory } from '../../src/overlay/export-dir.js'
import { exportTar } from '../../src/overlay/export-tar.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { openTree } from '../../src/overlay/tree.js'
import { rejects } from '../helpers/assert.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { makeFullTree } from '../helpers/trees.js'

/** What rsync would change to make `b` like `a`: empty when identical in content and metadata. */
function rsyncDiff (a: string, b: string): string {
  return execFileSync('rsync', ['-aHAXn', '--checksum', '--itemize-changes', `${a}/`, `${b}/`], { encoding: 'utf8' })
}

const Fidelity = suite<{ dir: string }>('directory import/export fidelity')
Fidelity.before(async (ctx) => {
  ctx.dir = await tmpdir()
  execFileSync('mkdir', [join(ctx.dir, 'src')])
  makeFullTree(join(ctx.dir, 'src'))
})
Fidelity.after(async (ctx) => { await rmrf(ctx.dir) })

Fidelity('a tree with every metadata kind exports back identical (rsync -aHAX --checksum sees nothing)', async ({ dir }) => {
  const store = new MemoryChunkStore()
  const { root, hardlinks, specials, symlinks } = await importDirectory(join(dir, 'src'), store)
  assert.is(hardlinks, 2)
  assert.is(specials, 5)
  assert.is(symlinks, 4)
  const out = join(dir, 'out1')
  await exportDirectory(store, root, out)
  assert.is(rsyncDiff(join(dir, 'src'), out), '')
  assert.is(rsyncDiff(out, join(dir, 'src')), '')
})

Fidelity('importing the same tree twice, and its export, gives the same root', async ({ dir }) => {
  const a = await importDirectory(join(dir, 'src'), new MemoryChunkStore())
  const b = await importDirectory(join(dir, 'src'), new MemoryChunkStore(), { workers: 1 })
  assert.ok(a.root.equals(b.root))
  const store = new MemoryChunkStore()
  await importDirectory(join(dir, 'src'), store)
  await exportDirectory(store, a.root, join(dir, 'out2'))
  const c = await importDirectory(join(dir, 'out2'), new MemoryChunkStore())
  assert.ok(a.root.equals(c.root))
})

Fidelity('the tree records hard links, devices, modes, owners, ns mtimes and xattrs', async ({ dir }) => {
  const store = new MemoryChunkStore()
  const { root } = await importDirectory(join(dir, 'src'), store)
  const tree = openTree(store, root)
  const h0 = await tree.statRequired('/etc/h0')
  const h1 = await tree.statRequired('/links/h1')
  const h2 = await tree.statRequired('/links/deeper/h2')
  assert.is(h0.hardlink, 'etc/h0')
  assert.is(h1.hardlink, 'etc/h0')
  assert.is(h2.hardlink, 'etc/h0')
  const conf = await tree.statRequired('/etc/small.conf')
  assert.is(conf.uid, 1234)
  assert.is(conf.gid, 5678)
  assert.is(conf.mtimeNs, 1_700_000_000_123_456_789n)
  assert.equal(new TextDecoder().decode(conf.xattrs?.['user.comment']), 'hello')
  assert.is((await tree.statRequired('/bin/zeros')).mtimeNs, -123_456_789n)
  assert.is((await tree.statRequired('/bin/suid')).mode, 0o4755)
  assert.is((await tree.statRequired('/var/tmp')).mode, 0o1777)
  const dev = await tree.statRequired('/dev/big-numbers')
  assert.is(dev.kind, 'chardev')
  assert.is(dev.devMajor, 4095)
  assert.is(dev.devMinor, 1048575)
  assert.is((await tree.statRequired('/dev/socket')).kind, 'socket')
  assert.ok((await tree.statRequired('/bin/ping')).xattrs?.['security.capability'] !== undefined)
  const names: string[] = []
  for await (const e of tree.readdir(await tree.statRequired('/names'))) names.push(e.name)
  assert.equal(names.filter((n) => !n.startsWith('long') && n !== 'big-ids'), ['Zcase', 'a b', 'plain', 'ünïcödé', '\uFF41fullwidth', '\u{1F600}emoji'])
  assert.is((await tree.statRequired('/names/big-ids')).uid, 3_000_000)
})

Fidelity('import into a LocalStore: a second import stores nothing new', async ({ dir }) => {
  const store = await openLocalStore(join(dir, 'store'))
  try {
    const a = await importDirectory(join(dir, 'src'), store)
    await store.flush()
    const before = await store.stats()
    const b = await importDirectory(join(dir, 'src'), store, { probe: true })
    await store.flush()
    const after = await store.stats()
    assert.ok(a.root.equals(b.root))
    assert.is(after.chunks, before.chunks)
    assert.is(after.packBytes, before.packBytes)
    await exportDirectory(store, a.root, join(dir, 'out3'))
    assert.is(rsyncDiff(join(dir, 'src'), join(dir, 'out3')), '')
  } finally {
    await store.close()
  }
})

Fidelity('probe mode (ask the store before compressing) stores exactly the missing blocks', async ({ dir }) => {
  const full = new MemoryChunkStore()
  const a = await importDirectory(join(dir, 'src'), full)
  const partial = new MemoryChunkStore()
  await importDirectory(join(dir, 'src', 'bin'), partial)
  const before = partial.size
  const b = await importDirectory(join(dir, 'src'), partial, { probe: true })
  assert.ok(b.root.equals(a.root))
  assert.ok(partial.size > before)
  assert.equal(new Set(partial.keys()), new Set([...full.keys(), ...partial.keys()]))
  await exportDirectory(partial, b.root, join(dir, 'out-probe'))
  assert.is(rsyncDiff(join(dir, 'src'), join(dir, 'out-probe')), '')
})

Fidelity('large files split across workers give the same root, also in probe mode', async ({ dir }) => {
  const src = join(dir, 'big-src')
  mkdirSync(src)
  writeFileSync(join(src, 'big.bin'), seededBytes(3, 6_000_000))
  writeFileSync(join(src, 'small'), 'x')
  const plain = await importDirectory(src, new MemoryChunkStore(), { bigFileBytes: Infinity })
  const store = new MemoryChunkStore()
  const split = await importDirectory(src, store, { bigFileBytes: 1 << 20 })
  assert.ok(split.root.equals(plain.root))
  assert.is(split.files, 2)
  assert.is(split.bytes, 6_000_001)
  const again = await importDirectory(src, store, { bigFileBytes: 1 << 20, probe: true })
  assert.ok(again.root.equals(plain.root))
  await exportDirectory(store, split.root, join(dir, 'big-out'))
  assert.is(rsyncDiff(src, join(dir, 'big-out')), '')
})

Fidelity('a subdirectory exports alone; hard links whose leader is outside it stay linked inside it', async ({ dir }) => {
  const store = new MemoryChunkStore()
  const { root } = await importDirectory(join(dir, 'src'), store)
  const out = join(dir, 'sub')
  const r = await exportDirectory(store, root, out, { path: '/links' })
  assert.is(r.hardlinks, 1)
  assert.is(rsyncDiff(join(dir, 'src', 'links'), out), '')
  const tar = join(dir, 'sub.tar')
  const parts: Uint8Array[] = []
  for await (const p of exportTar(store, root, { path: '/links' })) parts.push(p)
  writeFileSync(tar, Buffer.concat(parts))
  mkdirSync(join(dir, 'subtar'))
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', tar, '-C', join(dir, 'subtar')])
  assert.is(rsyncDiff(join(dir, 'src', 'links'), join(dir, 'subtar')), '')
  await rejects(exportDirectory(store, root, join(dir, 'nodir'), { path: '/etc/small.conf' }), 'OVERLAY_EXPORT_FAILED')
})

Fidelity('a file name that is not UTF-8 rejects OVERLAY_IMPORT_FAILED', async ({ dir }) => {
  const bad = join(dir, 'bad')
  mkdirSync(bad)
  writeFileSync(Buffer.concat([Buffer.from(bad + '/'), Buffer.from([0x66, 0xff, 0x66])]), 'x')
  await rejects(importDirectory(bad, new MemoryChunkStore()), 'OVERLAY_IMPORT_FAILED')
})

Fidelity('a directory that does not exist rejects OVERLAY_IMPORT_FAILED', async ({ dir }) => {
  await rejects(importDirectory(join(dir, 'nope'), new MemoryChunkStore()), 'OVERLAY_IMPORT_FAILED')
})

Fidelity.run()
