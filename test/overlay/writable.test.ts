import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { openTree } from '../../src/overlay/tree.js'
import { openUnionView, type UnionView } from '../../src/overlay/union-view.js'
import { openWritableLayer, type WritableLayer } from '../../src/overlay/writable.js'
import { rejects } from '../helpers/assert.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { buildTree, dump, type Spec } from './union-helpers.js'

type CID = import('multiformats/cid').CID
interface Ctx { dir: string, store: MemoryChunkStore, layer: WritableLayer, view: UnionView, root: import('multiformats/cid').CID }
const W = suite<Ctx>('writable layer')

const base: Spec = {
  '/etc/passwd': 'root', '/etc/hosts': 'localhost', '/etc/skel/.bashrc': 'rc', '/bin/sh': 'elf', '/var/log': { dir: true }
}

async function reopen (ctx: Ctx): Promise<void> {
  await ctx.view.close()
  await ctx.layer.close()
  ctx.layer = await openWritableLayer(ctx.dir)
  ctx.view = await openUnionView({ lowers: [openTree(ctx.store, ctx.root)], store: ctx.store, writable: ctx.layer })
}

W.before.each(async (ctx) => {
  ctx.dir = await tmpdir()
  ctx.store = new MemoryChunkStore()
  ctx.root = await buildTree(ctx.store, base)
  ctx.layer = await openWritableLayer(ctx.dir)
  ctx.view = await openUnionView({ lowers: [openTree(ctx.store, ctx.root)], store: ctx.store, writable: ctx.layer })
})
W.after.each(async (ctx) => { await ctx.view.close(); await ctx.layer.close(); await rmrf(ctx.dir) })

const text = (b: Uint8Array): string => Buffer.from(b).toString()

W('create, write, read back, and survive a reopen', async (ctx) => {
  await ctx.view.create('/etc/motd', { mode: 0o600 })
  await ctx.view.write('/etc/motd', 0, new TextEncoder().encode('hello'))
  await ctx.view.write('/etc/motd', 10, new TextEncoder().encode('!'))
  const a = await ctx.view.statRequired('/etc/motd')
  assert.is(a.size, 11)
  assert.is(a.mode, 0o600)
  await reopen(ctx)
  assert.equal([...await ctx.view.read('/etc/motd', 0, 100)], [...new TextEncoder().encode('hello'), 0, 0, 0, 0, 0, 33])
  assert.is((await ctx.view.statRequired('/etc/motd')).ino, a.ino)
  await rejects(ctx.view.create('/etc/motd'), 'OVERLAY_EXISTS')
  await rejects(ctx.view.create('/nope/x'), 'OVERLAY_NOT_FOUND')
  await rejects(ctx.view.create('/etc/passwd/x'), 'OVERLAY_NOT_DIR')
})

W('writing a lower file copies it up by chunk list and keeps its ino', async (ctx) => {
  const before = await ctx.view.statRequired('/etc/passwd')
  await ctx.view.write('/etc/passwd', 4, new TextEncoder().encode(':x:0'))
  assert.is(text(await ctx.view.read('/etc/passwd', 0, 100)), 'root:x:0')
  assert.is((await ctx.view.statRequired('/etc/passwd')).ino, before.ino)
  assert.is(text(await openTree(ctx.store, ctx.root).read((await openTree(ctx.store, ctx.root).stat('/etc/passwd'))!, 0, 100)), 'root')
})

W('big files: a write in the middle re-chunks only around it', async (ctx) => {
  const big = seededBytes(7, 3_000_000)
  await ctx.view.create('/big')
  for (let off = 0; off < big.length; off += 1 << 20) await ctx.view.write('/big', off, big.subarray(off, off + (1 << 20)))
  const keysBefore = await chunkKeys(ctx)
  big.set(new Uint8Array(100).fill(1), 1_500_000)
  await ctx.view.write('/big', 1_500_000, new Uint8Array(100).fill(1))
  assert.ok(Buffer.from(await ctx.view.read('/big', 0, big.length)).equals(Buffer.from(big)))
  const keysAfter = await chunkKeys(ctx)
  const fresh = [...keysAfter].filter((k) => !keysBefore.has(k))
  assert.ok(fresh.length >= 1 && fresh.length <= 4, `${fresh.length} new chunks`)
  await ctx.view.setattr('/big', { size: 1000 })
  assert.ok(Buffer.from(await ctx.view.read('/big', 0, 5000)).equals(Buffer.from(big.subarray(0, 1000))))
  await ctx.view.setattr('/big', { size: 2_000_000 })
  const grown = await ctx.view.read('/big', 0, 2_000_000)
  assert.ok(Buffer.from(grown.subarray(0, 1000)).equals(Buffer.from(big.subarray(0, 1000))))
  assert.ok(grown.subarray(1000).every((b) => b === 0))
  await ctx.view.unlink('/big')
  assert.ok((await chunkKeys(ctx)).size <= 2, 'the layer drops chunks nothing uses')
})

async function chunkKeys (ctx: Ctx): Promise<Set<string>> {
  const out = new Set<string>()
  for await (const [k] of ctx.layer.kv.range('k:', 'k;')) out.add(k)
  return out
}

W('unlink and rmdir of lower objects leave whiteouts; mkdir over a whiteout is opaque', async (ctx) => {
  await ctx.view.unlink('/etc/hosts')
  await rejects(ctx.view.rmdir('/etc'), 'OVERLAY_NOT_EMPTY')
  await rejects(ctx.view.unlink('/etc'), 'OVERLAY_IS_DIR')
  await rejects(ctx.view.rmdir('/etc/passwd'), 'OVERLAY_NOT_DIR')
  await ctx.view.unlink('/etc/skel/.bashrc')
  await ctx.view.rmdir('/etc/skel')
  await ctx.view.mkdir('/etc/skel')
  assert.equal(await dump(ctx.view, '/etc'), { '/etc/passwd': 'file 644 root', '/etc/skel': 'dir 755' })
  await reopen(ctx)
  assert.equal(await dump(ctx.view, '/etc'), { '/etc/passwd': 'file 644 root', '/etc/skel': 'dir 755' })
})

W('rename files and directories across layers keeps content and inos', async (ctx) => {
  const etc = await ctx.view.statRequired('/etc')
  const passwd = await ctx.view.statRequired('/etc/passwd')
  await ctx.view.create('/etc/new')
  await ctx.view.rename('/etc', '/etc2')
  assert.is(await ctx.view.stat('/etc'), undefined)
  assert.is((await ctx.view.statRequired('/etc2')).ino, etc.ino)
  assert.is((await ctx.view.statRequired('/etc2/passwd')).ino, passwd.ino)
  assert.is(await ctx.view.pathOf(passwd.ino), '/etc2/passwd')
  assert.equal(Object.keys(await dump(ctx.view, '/etc2')), ['/etc2/hosts', '/etc2/new', '/etc2/passwd', '/etc2/skel', '/etc2/skel/.bashrc'])
  await ctx.view.rename('/bin/sh', '/etc2/sh')
  assert.is(text(await ctx.view.read('/etc2/sh', 0, 9)), 'elf')
  await ctx.view.rename('/etc2/sh', '/etc2/passwd')
  assert.is(text(await ctx.view.read('/etc2/passwd', 0, 9)), 'elf')
  await rejects(ctx.view.rename('/etc2', '/etc2/skel/x'), 'OVERLAY_BAD_PATH')
  await rejects(ctx.view.rename('/etc2', '/var'), 'OVERLAY_NOT_EMPTY')
  await rejects(ctx.view.rename('/etc2/passwd', '/etc2/skel'), 'OVERLAY_IS_DIR')
  await ctx.view.mkdir('/etc')
  await ctx.view.rename('/var/log', '/etc')
  await reopen(ctx)
  assert.equal(await dump(ctx.view, '/etc'), {})
  assert.is(await ctx.view.stat('/var/log'), undefined)
})

W('symlink, mknod, hard link, chmod, chown, utimes', async (ctx) => {
  await ctx.view.symlink('/l', 'etc/passwd')
  assert.is(await ctx.view.readlink('/l'), 'etc/passwd')
  const fifo = await ctx.view.mknod('/f', 'fifo', { major: 0, minor: 0 })
  assert.is(fifo.kind, 'fifo')
  const dev = await ctx.view.mknod('/null', 'chardev', { major: 1, minor: 3 }, { mode: 0o666 })
  assert.equal([dev.devMajor, dev.devMinor, dev.mode], [1, 3, 0o666])
  const h = await ctx.view.link('/etc/passwd', '/etc/passwd2')
  assert.is(h.nlink, 2)
  assert.is((await ctx.view.statRequired('/etc/passwd')).ino, h.ino)
  await ctx.view.write('/etc/passwd2', 0, new TextEncoder().encode('ROOT'))
  assert.is(text(await ctx.view.read('/etc/passwd', 0, 10)), 'ROOT')
  await ctx.view.unlink('/etc/passwd')
  assert.is((await ctx.view.statRequired('/etc/passwd2')).nlink, 1)
  assert.is(await ctx.view.pathOf(h.ino), '/etc/passwd2', 'the ino follows the remaining name')
  const a = await ctx.view.setattr('/bin/sh', { mode: 0o4755, uid: 5, gid: 6, mtimeNs: 123n })
  assert.equal([a.mode, a.uid, a.gid, a.mtimeNs], [0o4755, 5, 6, 123n])
  assert.is(text(await ctx.view.read('/bin/sh', 0, 10)), 'elf')
  const root = await ctx.view.setattr('/', { mode: 0o700 })
  assert.is(root.mode, 0o700)
  await rejects(ctx.view.rmdir('/'), 'OVERLAY_INVALID')
})

W('copy-up reads no chunk: chmod reads none, a small write only the chunks it touches', async () => {
  const big = seededBytes(3, 3_000_000)
  const inner = new MemoryChunkStore()
  const root = await buildTree(inner, {})
  const src = await tmpdir()
  try {
    const { writeFile } = await import('node:fs/promises')
    const { importDirectory } = await import('../../src/overlay/import-dir.js')
    await writeFile(`${src}/big`, big)
    const lower = (await importDirectory(src, inner, { workers: 1 })).root
    let rawGets = 0
    const counting = {
      has: async (c: CID) => await inner.has(c),
      get: async (c: CID) => { if (c.code === 0x55) rawGets++; return await inner.get(c) }
    }
    const dir = await tmpdir()
    const layer = await openWritableLayer(dir)
    const v = await openUnionView({ lowers: [openTree(counting, lower), openTree(counting, root)], store: counting, writable: layer })
    await v.setattr('/big', { mode: 0o600, uid: 7 })
    assert.is(rawGets, 0, 'chmod/chown of a lower file reads no content')
    await v.write('/big', 1_500_000, new Uint8Array([1, 2, 3]))
    assert.ok(rawGets >= 1 && rawGets <= 2, `${rawGets} chunks read for a 3-byte write`)
    big.set([1, 2, 3], 1_500_000)
    assert.ok(Buffer.from(await v.read('/big', 0, big.length)).equals(Buffer.from(big)))
    // The committed file reuses every chunk but the ones around the write.
    const { root: committed, chunks } = await v.commit(inner)
    const before = openTree(inner, lower)
    const after = openTree(inner, committed)
    const old = new Set<string>()
    for await (const s of before.spans((await before.stat('/big'))!)) old.add(s.cid.toString())
    let fresh = 0
    let total = 0
    for await (const s of after.spans((await after.stat('/big'))!)) { total++; if (!old.has(s.cid.toString())) fresh++ }
    assert.ok(fresh >= 1 && fresh <= 2 && chunks === fresh, `${fresh} of ${total} chunks new, ${chunks} stored`)
    assert.ok(total > 10)
    await v.close(); await layer.close(); await rmrf(dir)
  } finally { await rmrf(src) }
})

W('concurrent operations (many NFS requests in flight) serialise correctly', async (ctx) => {
  await ctx.view.create('/f')
  const block = (i: number): Uint8Array => new Uint8Array(50_000).fill(i)
  const ops: Array<Promise<unknown>> = []
  for (let i = 0; i < 40; i++) {
    ops.push(ctx.view.write('/f', i * 50_000, block(i)))
    ops.push(ctx.view.create(`/etc/n${i}`))
    ops.push(ctx.view.stat('/etc/passwd'))
    if (i % 10 === 0) ops.push(ctx.view.rename('/etc/hosts', `/etc/hosts${i}`).catch(() => undefined))
  }
  await Promise.all(ops)
  const all = await ctx.view.read('/f', 0, 2_000_000)
  assert.is(all.length, 2_000_000)
  for (let i = 0; i < 40; i++) assert.ok(all.subarray(i * 50_000, (i + 1) * 50_000).every((b) => b === i), `block ${i}`)
  const names: string[] = []
  for await (const e of ctx.view.readdir('/etc')) names.push(e.name)
  assert.is(names.filter((n) => n.startsWith('n')).length, 40)
  assert.is(names.filter((n) => n.startsWith('hosts')).length, 1)
  const { checkWritableLayer } = await import('../../src/overlay/writable-check.js')
  assert.equal(await checkWritableLayer(ctx.layer.kv, ctx.store), [])
})

W('view.commit() takes a consistent snapshot while writes go on', async (ctx) => {
  await ctx.view.create('/log')
  const writes: Array<Promise<unknown>> = []
  for (let i = 0; i < 20; i++) writes.push(ctx.view.write('/log', i * 10, new TextEncoder().encode(`line ${String(i).padStart(4, '0')}\n`)))
  const committed = ctx.view.commit()
  for (let i = 20; i < 40; i++) writes.push(ctx.view.write('/log', i * 10, new TextEncoder().encode(`line ${String(i).padStart(4, '0')}\n`)))
  const { root } = await committed
  await Promise.all(writes)
  const snap = await openUnionView({ lowers: [openTree(ctx.store, root), openTree(ctx.store, ctx.root)], store: ctx.store })
  const text = Buffer.from(await snap.read('/log', 0, 1000)).toString()
  assert.is(text.length % 10, 0)
  assert.ok(text.length >= 200 && text.length <= 400, `${text.length} bytes`)
  for (let i = 0; i < text.length / 10; i++) assert.is(text.slice(i * 10, i * 10 + 10), `line ${String(i).padStart(4, '0')}\n`)
  assert.is((await snap.statRequired('/etc/passwd')).size, 4)
})

W('a lower hard-link group is copied up together: a write through one name shows through all', async () => {
  const src = await tmpdir()
  const dir = await tmpdir()
  try {
    const fs = await import('node:fs/promises')
    const { importDirectory } = await import('../../src/overlay/import-dir.js')
    await fs.mkdir(`${src}/a`); await fs.mkdir(`${src}/b`)
    await fs.writeFile(`${src}/a/one`, 'shared')
    await fs.link(`${src}/a/one`, `${src}/b/two`)
    await fs.link(`${src}/a/one`, `${src}/three`)
    const store = new MemoryChunkStore()
    const lower = (await importDirectory(src, store, { workers: 1 })).root
    const layer = await openWritableLayer(dir)
    const v = await openUnionView({ lowers: [openTree(store, lower)], store, writable: layer })
    const before = await v.statRequired('/b/two')
    assert.is((await v.statRequired('/three')).ino, before.ino, 'members share an ino')
    await v.write('/b/two', 0, new TextEncoder().encode('SH'))
    for (const p of ['/a/one', '/b/two', '/three']) {
      assert.is(text(await v.read(p, 0, 10)), 'SHared', p)
      const a = await v.statRequired(p)
      assert.equal([a.ino, a.nlink], [before.ino, 3], p)
    }
    const { root } = await v.commit()
    const overlay = openTree(store, root)
    assert.is((await overlay.stat('/three'))?.hardlink, 'a/one')
    await v.close(); await layer.close()
  } finally { await rmrf(src); await rmrf(dir) }
})

W('readdir of a big writable directory resumes after any name', async (ctx) => {
  await ctx.view.mkdir('/big')
  for (let i = 0; i < 600; i += 2) await ctx.view.create(`/big/f${String(i).padStart(5, '0')}`)
  const after = async (name: string): Promise<string[]> => {
    const out: string[] = []
    for await (const e of ctx.view.readdir('/big', name)) { out.push(e.name); if (out.length === 2) break }
    return out
  }
  assert.equal(await after('f00300'), ['f00302', 'f00304'])
  assert.equal(await after('f00301'), ['f00302', 'f00304'], 'a name that does not exist')
  assert.equal(await after('f0'), ['f00000', 'f00002'], 'a prefix of names')
  assert.equal(await after('f00598'), [])
})

W.run()
