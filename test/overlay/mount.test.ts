import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { CID } from 'multiformats/cid'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { createMountHook, parseMountFile } from '../../src/overlay/mount.js'
import { openTree } from '../../src/overlay/tree.js'
import { openUnionView } from '../../src/overlay/union-view.js'
import { openWritableLayer } from '../../src/overlay/writable.js'
import { rejects } from '../helpers/assert.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { buildTree, dump, type Spec } from './union-helpers.js'

const Parse = suite('.mount syntax')

Parse('comments, blank lines, rw marker, schemes', () => {
  const lines = parseMountFile('# top first\n\n/var/lib/logs rw\ncas://bafyx\n  template://Debian/12@bafyz ro \n', '/x/.mount')
  assert.equal(lines, [
    { url: '/var/lib/logs', writable: true, line: 3 },
    { url: 'cas://bafyx', writable: false, line: 4 },
    { url: 'template://Debian/12@bafyz', writable: false, line: 5 }
  ])
})

Parse('an empty .mount, or one of comments only, mounts nothing', () => {
  assert.equal(parseMountFile('', '/m/.mount'), [])
  assert.equal(parseMountFile('# later\n\n', '/m/.mount'), [])
})

Parse('broken lines are errors naming the file and line', () => {
  const cases: Array<[string, string]> = [
    ['cas://a rw extra', '/m/.mount:1'], ['cas://a\ncas://b rw', '/m/.mount:2'], ['relative/dir', '/m/.mount:1'],
    ['cas://a sometimes', '/m/.mount:1']
  ]
  for (const [text, where] of cases) {
    try { parseMountFile(text, '/m/.mount'); assert.unreachable(text) } catch (err) {
      const e = err as Error & { code?: string }
      assert.is(e.code, 'OVERLAY_BAD_MOUNT', text)
      assert.ok(e.message.startsWith(where), `${e.message} names ${where}`)
    }
  }
})

Parse.run()

const Mount = suite('.mount resolution')

async function setup (specs: Record<string, Spec>, base: Spec): Promise<{ store: MemoryChunkStore, roots: Map<string, CID>, baseRoot: CID }> {
  const store = new MemoryChunkStore()
  const roots = new Map<string, CID>()
  for (const [name, spec] of Object.entries(specs)) roots.set(name, await buildTree(store, spec))
  return { store, roots, baseRoot: await buildTree(store, base) }
}

async function viewOf (store: MemoryChunkStore, roots: Map<string, CID>, base: CID): Promise<Awaited<ReturnType<typeof openUnionView>>> {
  const onDir = createMountHook({
    store,
    tree: async (url) => {
      if (url.startsWith('cas://')) return openTree(store, (await import('multiformats/cid')).CID.parse(url.slice(6)))
      const name = url.slice('template://'.length)
      const root = roots.get(name)
      if (root === undefined) throw new Error(`no template ${name}`)
      return openTree(store, root)
    }
  })
  return await openUnionView({ lowers: [openTree(store, base)], store, onDir: onDir as never })
}

Mount('a .mount stacks the listed trees on the directory, top first, resolved on demand', async () => {
  const { store, roots } = await setup({ app: { '/bin/app': 'v2', '/conf': 'app conf' }, lib: { '/bin/app': 'v1', '/lib/x.so': 'x' } }, {})
  const base = await buildTree(store, { '/etc/passwd': 'root', '/opt/.mount': `template://app\ncas://${roots.get('lib')!.toString()}\n`, '/opt/readme': 'base' })
  const v = await viewOf(store, roots, base)
  assert.equal(await dump(v, '/opt'), {
    '/opt/.mount': `file 644 template://app\ncas://${roots.get('lib')!.toString()}\n`, '/opt/bin': 'dir 755', '/opt/bin/app': 'file 644 v2',
    '/opt/conf': 'file 644 app conf', '/opt/lib': 'dir 755', '/opt/lib/x.so': 'file 644 x', '/opt/readme': 'file 644 base'
  })
  await rejects(v.create('/opt/new'), 'OVERLAY_READ_ONLY')
})

Mount('nested .mount files inside mounted trees are resolved too', async () => {
  const { store, roots } = await setup({ inner: { '/deep': 'inner' }, outer: { '/sub/.mount': 'template://inner' } }, {})
  const base = await buildTree(store, { '/m/.mount': 'template://outer' })
  const v = await viewOf(store, roots, base)
  assert.is(Buffer.from(await v.read('/m/sub/deep', 0, 10)).toString(), 'inner')
})

Mount('unknown schemes, unresolvable names, cycles and runaway depth are BadMountErrors', async () => {
  const { store, roots } = await setup({ loop: { '/x/.mount': 'template://loop' } }, {})
  for (let i = 0; i < 12; i++) roots.set(`n${i}`, await buildTree(store, { '/d/.mount': `template://n${i + 1}` }))
  const base = await buildTree(store, {
    '/a/.mount': '# c\nftp://host/x', '/b/.mount': 'template://missing', '/c/.mount': 'template://loop', '/e/.mount': 'template://n0'
  })
  const v = await viewOf(store, roots, base)
  const e1 = await rejects(v.stat('/a/x'), 'OVERLAY_BAD_MOUNT')
  assert.match(e1.message, '/a/.mount:2')
  await rejects(v.readdir('/b')[Symbol.asyncIterator]().next(), 'OVERLAY_BAD_MOUNT')
  await rejects(v.stat('/c/x/x/y'), 'OVERLAY_BAD_MOUNT')
  await rejects(v.stat('/e/d/d/d/d/d/d/d/d/d/d'), 'OVERLAY_BAD_MOUNT')
  assert.ok(await v.stat('/e/d/d'), 'shallow paths of a deep chain still work')
})

Mount('a local writable layer directory mounts with its content', async () => {
  const dir = await tmpdir()
  try {
    const store = new MemoryChunkStore()
    const empty = await buildTree(store, {})
    const layer = await openWritableLayer(dir)
    const w = await openUnionView({ lowers: [openTree(store, empty)], store, writable: layer })
    await w.create('/syslog')
    await w.write('/syslog', 0, new TextEncoder().encode('booted'))
    await w.close()
    const base = await buildTree(store, { '/var/log/.mount': `${dir} rw`, '/var/log/old': 'old' })
    const v = await openUnionView({
      lowers: [openTree(store, base)], store, onDir: createMountHook({ store, writable: async () => layer }) as never
    })
    assert.is(Buffer.from(await v.read('/var/log/syslog', 0, 100)).toString(), 'booted')
    assert.is(Buffer.from(await v.read('/var/log/old', 0, 100)).toString(), 'old')
    await layer.close()
  } finally { await rmrf(dir) }
})

Mount('writes below a .mount go to its writable layer, the rest to the view own layer', async () => {
  const dir = await tmpdir()
  const own = await tmpdir()
  try {
    const store = new MemoryChunkStore()
    const base = await buildTree(store, { '/var/log/.mount': `${dir} rw`, '/var/log/old': 'old', '/etc/hosts': 'h' })
    const logs = await openWritableLayer(dir)
    const mine = await openWritableLayer(own)
    const v = await openUnionView({
      lowers: [openTree(store, base)], store, writable: mine, onDir: createMountHook({ store, writable: async () => logs }) as never
    })
    await v.create('/var/log/syslog')
    await v.write('/var/log/syslog', 0, new TextEncoder().encode('line 1\n'))
    await v.write('/var/log/old', 3, new TextEncoder().encode('er'))
    await v.mkdir('/var/log/apache2')
    const ino = (await v.statRequired('/var/log/syslog')).ino
    await v.rename('/var/log/syslog', '/var/log/apache2/error.log')
    assert.is((await v.statRequired('/var/log/apache2/error.log')).ino, ino, 'a rename inside a mounted layer keeps the ino')
    assert.is(await v.pathOf(ino), '/var/log/apache2/error.log')
    await v.create('/etc/motd')
    await rejects(v.rename('/etc/motd', '/var/log/motd'), 'OVERLAY_CROSS_LAYER')
    assert.equal(await dump(v, '/var/log'), {
      '/var/log/.mount': `file 644 ${dir} rw`, '/var/log/apache2': 'dir 755', '/var/log/apache2/error.log': 'file 644 line 1\n', '/var/log/old': 'file 644 older'
    })
    const empty = await buildTree(store, {})
    const alone = await openUnionView({ lowers: [openTree(store, empty)], store, writable: logs })
    assert.equal(Object.keys(await dump(alone)), ['/apache2', '/apache2/error.log', '/old'])
    const ownOnly = await openUnionView({ lowers: [openTree(store, empty)], store, writable: mine })
    assert.equal(Object.keys(await dump(ownOnly)), ['/etc', '/etc/motd'])
    await v.sync()
    await logs.close(); await mine.close()
  } finally { await rmrf(dir); await rmrf(own) }
})

Mount('a .mount written through the view takes effect; files written before it are copied into its layer', async () => {
  const dir = await tmpdir()
  const own = await tmpdir()
  try {
    const store = new MemoryChunkStore()
    const base = await buildTree(store, { '/srv/keep': 'k' })
    const logs = await openWritableLayer(dir)
    const mine = await openWritableLayer(own)
    const v = await openUnionView({
      lowers: [openTree(store, base)], store, writable: mine, onDir: createMountHook({ store, writable: async () => logs }) as never
    })
    await v.create('/srv/data')
    await v.write('/srv/data', 0, new TextEncoder().encode('abc'))
    await v.create('/srv/.mount')
    await v.write('/srv/.mount', 0, new TextEncoder().encode(`${dir} rw\n`))
    await v.write('/srv/data', 3, new TextEncoder().encode('def'))
    assert.is(Buffer.from(await v.read('/srv/data', 0, 100)).toString(), 'abcdef')
    const empty = await buildTree(store, {})
    const alone = await openUnionView({ lowers: [openTree(store, empty)], store, writable: logs })
    assert.is(Buffer.from(await alone.read('/data', 0, 100)).toString(), 'abcdef', 'the mounted layer holds the whole file')
    await logs.close(); await mine.close()
  } finally { await rmrf(dir); await rmrf(own) }
})

Mount.run()
