import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { ReadView } from '../../src/overlay/view.js'
import { rejects } from '../helpers/assert.js'

/**
 * The tree every resolver under test must show: factories build it their own way (one
 * layer, a stack of layers, a writable layer filled by operations, ...).
 */
export const CONTRACT_TREE = {
  files: { '/etc/passwd': 'root:x:0:0', '/etc/hosts': '127.0.0.1 localhost', '/usr/bin/env': 'ELF', '/empty': '' } as Record<string, string>,
  dirs: ['/etc', '/usr', '/usr/bin', '/var', '/var/empty'],
  symlinks: { '/bin': 'usr/bin' } as Record<string, string>
}

/** Runs the ReadView contract against views made by `factory` (each test gets a fresh one). */
export function resolverContract (name: string, factory: () => Promise<ReadView>): void {
  const test = suite<{ view: ReadView }>(`resolver contract: ${name}`)
  test.before.each(async (ctx) => { ctx.view = await factory() })
  test.after.each(async (ctx) => { await ctx.view.close() })

  test('stat gives kinds, sizes and a stable distinct ino per path', async ({ view }) => {
    const inos = new Set<bigint>()
    for (const [path, text] of Object.entries(CONTRACT_TREE.files)) {
      const a = await view.statRequired(path)
      assert.is(a.kind, 'file', path)
      assert.is(a.size, Buffer.byteLength(text), path)
      inos.add(a.ino)
      assert.is((await view.statRequired(path)).ino, a.ino)
      assert.is(await view.pathOf(a.ino), path)
    }
    for (const d of CONTRACT_TREE.dirs) { const a = await view.statRequired(d); assert.is(a.kind, 'dir'); inos.add(a.ino) }
    assert.is(inos.size, Object.keys(CONTRACT_TREE.files).length + CONTRACT_TREE.dirs.length)
    assert.is((await view.statRequired('/')).ino, 1n)
    assert.is(await view.stat('/nope'), undefined)
    await rejects(view.stat('/etc/passwd/x'), 'OVERLAY_NOT_DIR')
    await rejects(view.statRequired('/nope'), 'OVERLAY_NOT_FOUND')
    await rejects(view.stat('/../x'), 'OVERLAY_BAD_PATH')
  })

  test('readdir lists in name order and resumes after any name', async ({ view }) => {
    const names: string[] = []
    for await (const e of view.readdir('/')) names.push(e.name)
    assert.equal(names, ['bin', 'empty', 'etc', 'usr', 'var'])
    const after: string[] = []
    for await (const e of view.readdir('/', 'd')) after.push(e.name)
    assert.equal(after, ['empty', 'etc', 'usr', 'var'])
    const empty: string[] = []
    for await (const e of view.readdir('/var/empty')) empty.push(e.name)
    assert.equal(empty, [])
    await rejects(view.readdir('/etc/hosts')[Symbol.asyncIterator]().next(), 'OVERLAY_NOT_DIR')
    await rejects(view.readdir('/nope')[Symbol.asyncIterator]().next(), 'OVERLAY_NOT_FOUND')
  })

  test('read returns any byte range; readlink the target', async ({ view }) => {
    assert.is(Buffer.from(await view.read('/etc/passwd', 5, 3)).toString(), 'x:0')
    assert.is(Buffer.from(await view.read('/etc/passwd', 0, 1000)).toString(), 'root:x:0:0')
    assert.is((await view.read('/etc/passwd', 1000, 10)).length, 0)
    assert.is((await view.read('/empty', 0, 10)).length, 0)
    assert.is(await view.readlink('/bin'), 'usr/bin')
    await rejects(view.read('/etc', 0, 1), 'OVERLAY_IS_DIR')
    await rejects(view.readlink('/etc/hosts'), 'OVERLAY_INVALID')
  })

  test.run()
}
