import * as fs from 'node:fs/promises'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { buildOverlay } from '../../src/overlay/build.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { openTree } from '../../src/overlay/tree.js'
import { openUnionView } from '../../src/overlay/union-view.js'
import { rejects } from '../helpers/assert.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { buildTree, dump, type Spec } from './union-helpers.js'

const Build = suite('overlay build')

const base: Spec = {
  '/etc/passwd': 'root', '/etc/hosts': 'localhost', '/bin/sh': 'elf', '/bin/ls': 'ls',
  '/usr/share/doc/a': 'a', '/usr/share/doc/b': 'b', '/var/log/syslog': 'log'
}

Build('OCI markers and --whiteout become whiteouts and opaque directories', async () => {
  const dir = await tmpdir()
  const store = new MemoryChunkStore()
  try {
    const b = openTree(store, await buildTree(store, base))
    for (const d of ['etc', 'usr/share/doc', 'var']) await fs.mkdir(join(dir, d), { recursive: true })
    await fs.chmod(dir, 0o755)
    for (const d of ['etc', 'usr', 'usr/share', 'usr/share/doc', 'var']) await fs.chmod(join(dir, d), 0o755)
    await fs.writeFile(join(dir, 'etc/.wh.passwd'), '')
    await fs.writeFile(join(dir, 'etc/motd'), 'hi')
    await fs.writeFile(join(dir, 'usr/share/doc/.wh..wh..opq'), '')
    await fs.writeFile(join(dir, 'usr/share/doc/c'), 'c')
    await fs.writeFile(join(dir, 'etc/.wh.hosts'), '')
    await fs.writeFile(join(dir, 'etc/hosts'), 'mine') // a real entry wins over its marker
    const imported = (await importDirectory(dir, store, { workers: 1 })).root
    const r = await buildOverlay(store, imported, store, { whiteouts: ['/bin/sh', '/var/log/syslog'], base: b })
    assert.equal([r.whiteouts, r.opaque], [3, 1])
    const overlay = openTree(store, r.root)
    assert.is((await overlay.stat('/usr/share/doc'))?.opaque, true)
    assert.is((await overlay.stat('/etc/.wh.passwd')), undefined)
    assert.is((await overlay.stat('/var/log'))?.mode, 0o755, 'a parent made for a whiteout takes the base metadata')
    const v = await openUnionView({ lowers: [overlay, b], store })
    const d = await dump(v)
    for (const k of Object.keys(d)) if (k.startsWith('/etc') || k.startsWith('/usr/share/doc') || k.startsWith('/bin') || k.startsWith('/var')) continue; else delete d[k]
    assert.equal(d, {
      '/bin': 'dir 755', '/bin/ls': 'file 644 ls', '/etc': 'dir 755', '/etc/hosts': 'file 644 mine', '/etc/motd': 'file 644 hi',
      '/usr/share/doc': 'dir 755', '/usr/share/doc/c': 'file 644 c', '/var': 'dir 755', '/var/log': 'dir 755'
    })
    await rejects(buildOverlay(store, imported, store, { whiteouts: ['/'] }), 'OVERLAY_BAD_PATH')
  } finally { await rmrf(dir) }
})

Build.run()
