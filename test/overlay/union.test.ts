import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { openTree } from '../../src/overlay/tree.js'
import { openUnionView } from '../../src/overlay/union-view.js'
import { rejects } from '../helpers/assert.js'
import { buildTree, dump, type Spec } from './union-helpers.js'

const Union = suite('union view (read-only stack)')

async function view (...specs: Spec[]): Promise<Awaited<ReturnType<typeof openUnionView>>> {
  const store = new MemoryChunkStore()
  const lowers = []
  for (const spec of specs) lowers.push(openTree(store, await buildTree(store, spec)))
  return await openUnionView({ lowers, store })
}

const base: Spec = {
  '/etc/passwd': 'root', '/etc/hosts': 'localhost', '/etc/skel/.bashrc': 'rc', '/bin/sh': 'elf',
  '/var/log': { dir: true }, '/link': { symlink: 'etc/passwd' }
}

Union('an upper file hides the lower one; lower-only names show through', async () => {
  const v = await view({ '/etc/passwd': 'root:x', '/etc/new': 'n' }, base)
  assert.equal(await dump(v), {
    '/bin': 'dir 755', '/bin/sh': 'file 644 elf', '/etc': 'dir 755', '/etc/hosts': 'file 644 localhost',
    '/etc/new': 'file 644 n', '/etc/passwd': 'file 644 root:x', '/etc/skel': 'dir 755', '/etc/skel/.bashrc': 'file 644 rc',
    '/link': 'symlink etc/passwd', '/var': 'dir 755', '/var/log': 'dir 755'
  })
})

Union('a whiteout hides a lower file, a lower directory and its contents', async () => {
  const v = await view({ '/etc/hosts': { whiteout: true }, '/etc/skel': { whiteout: true }, '/bin': { whiteout: true } }, base)
  assert.is(await v.stat('/etc/hosts'), undefined)
  assert.is(await v.stat('/etc/skel/.bashrc'), undefined)
  assert.is(await v.stat('/bin'), undefined)
  const names: string[] = []
  for await (const e of v.readdir('/etc')) names.push(e.name)
  assert.equal(names, ['passwd'])
})

Union('a whiteout in a middle layer hides only the layers below it', async () => {
  const v = await view({ '/etc/hosts': 'top' }, { '/etc/hosts': { whiteout: true } }, base)
  assert.is(Buffer.from(await v.read('/etc/hosts', 0, 10)).toString(), 'top')
  const w = await view({ '/etc/other': 'x' }, { '/etc/hosts': { whiteout: true } }, base)
  assert.is(await w.stat('/etc/hosts'), undefined)
})

Union('an opaque directory hides everything below it in lower layers', async () => {
  const v = await view({ '/etc': { dir: true, opaque: true }, '/etc/only': 'me' }, base)
  assert.equal(Object.keys(await dump(v, '/etc')), ['/etc/only'])
  assert.is(await v.stat('/etc/passwd'), undefined)
  assert.ok(await v.stat('/bin/sh'))
})

Union('a file replaces a lower directory, and a directory replaces a lower file', async () => {
  const v = await view({ '/etc/skel': 'now a file', '/bin/sh': { dir: true }, '/bin/sh/x': 'y' }, base)
  assert.is((await v.stat('/etc/skel'))?.kind, 'file')
  await rejects(v.stat('/etc/skel/.bashrc'), 'OVERLAY_NOT_DIR')
  assert.equal(await dump(v, '/bin'), { '/bin/sh': 'dir 755', '/bin/sh/x': 'file 644 y' })
})

Union('a lower directory under an upper non-directory is not merged further down', async () => {
  // Layer 1 has a file where layers 0 and 2 have directories: layer 2 is cut off.
  const v = await view({ '/d/a': 'top' }, { '/d': 'file' }, { '/d/b': 'bottom' })
  assert.equal(await dump(v, '/d'), { '/d/a': 'file 644 top' })
})

Union('readdir resumes strictly after a name, also one that does not exist', async () => {
  const spec: Spec = {}
  for (let i = 0; i < 3000; i++) spec[`/big/f${String(i).padStart(5, '0')}`] = 'x'
  const v = await view({ '/big/f00010': { whiteout: true }, '/big/zz': 'top' }, spec)
  const all: string[] = []
  for await (const e of v.readdir('/big')) all.push(e.name)
  assert.is(all.length, 3000)
  assert.not.ok(all.includes('f00010'))
  const after: string[] = []
  for await (const e of v.readdir('/big', 'f02998')) after.push(e.name)
  assert.equal(after, ['f02999', 'zz'])
  const fromMissing: string[] = []
  for await (const e of v.readdir('/big', 'f00010')) { fromMissing.push(e.name); if (fromMissing.length === 2) break }
  assert.equal(fromMissing, ['f00011', 'f00012'])
})

Union('inode numbers are stable, distinct and reversible', async () => {
  const v = await view({ '/etc/new': 'n' }, base)
  const a = await v.statRequired('/etc/passwd')
  const b = await v.statRequired('/etc/new')
  assert.is((await v.statRequired('/')).ino, 1n)
  assert.is.not(a.ino, b.ino)
  assert.is((await v.statRequired('/etc/passwd')).ino, a.ino)
  assert.is(await v.pathOf(a.ino), '/etc/passwd')
  await rejects(v.create('/x'), 'OVERLAY_READ_ONLY')
  await rejects(v.readlink('/etc'), 'OVERLAY_INVALID')
  assert.is(await v.readlink('/link'), 'etc/passwd')
})

Union('a read-only view with a state directory keeps inos across restarts and stack changes', async () => {
  const { openLevelKv, cacheKv } = await import('../../src/overlay/kv.js')
  const { tmpdir, rmrf } = await import('../helpers/tmpdir.js')
  const dir = await tmpdir()
  try {
    const store = new MemoryChunkStore()
    const b = await buildTree(store, base)
    const top = await buildTree(store, { '/etc/new': 'n' })
    const open = async (lowers: Array<ReturnType<typeof openTree>>): Promise<[Awaited<ReturnType<typeof openUnionView>>, { close: () => Promise<void> }]> => {
      const state = cacheKv(await openLevelKv(dir))
      return [await openUnionView({ lowers, store, state }), state]
    }
    let [v, state] = await open([openTree(store, b)])
    const hosts = (await v.statRequired('/etc/hosts')).ino
    const etc = (await v.statRequired('/etc')).ino
    await v.close(); await state.close();
    [v, state] = await open([openTree(store, top), openTree(store, b)])
    const fresh = (await v.statRequired('/etc/new')).ino
    assert.is((await v.statRequired('/etc')).ino, etc)
    assert.is((await v.statRequired('/etc/hosts')).ino, hosts)
    assert.is(await v.pathOf(hosts), '/etc/hosts')
    assert.ok(fresh !== hosts && fresh !== etc)
    await v.close(); await state.close()
  } finally { await rmrf(dir) }
})

Union.run()
