import { execFile } from 'node:child_process'
import * as fs from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CID } from 'multiformats/cid'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { openLocalStore } from '../../src/cas/store/local.js'
import { openTree } from '../../src/overlay/tree.js'
import { openUnionView } from '../../src/overlay/union-view.js'
import { openWritableLayer } from '../../src/overlay/writable.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { dump } from './union-helpers.js'

const XENO = fileURLToPath(new URL('../../../bin/xeno', import.meta.url))

interface Run { code: number, stdout: string, stderr: string, json: any }

async function xeno (store: string, ...args: string[]): Promise<Run> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [XENO, ...args, '--store', store, '--json'], (err, stdout, stderr) => {
      let json: unknown
      try { json = JSON.parse(stdout) } catch { json = undefined }
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr, json })
    })
  })
}

const Cli = suite<{ dir: string }>('xeno overlay diff / build / commit')
Cli.before.each(async (ctx) => { ctx.dir = await tmpdir() })
Cli.after.each(async (ctx) => { await rmrf(ctx.dir) })

async function tree (root: string, files: Record<string, string>): Promise<void> {
  for (const [p, text] of Object.entries(files)) {
    await fs.mkdir(join(root, p, '..'), { recursive: true })
    await fs.writeFile(join(root, p), text)
  }
}

Cli('diff a directory against a base, checked, and the overlay stacks back to the tree', async ({ dir }) => {
  const store = join(dir, 'store')
  await tree(join(dir, 'a'), { 'etc/passwd': 'root', 'etc/old': 'x', 'usr/bin/sh': 'elf' })
  await tree(join(dir, 'b'), { 'etc/passwd': 'root:x', 'usr/bin/sh': 'elf', 'srv/www/index.html': 'hi' })
  const base = await xeno(store, 'template', 'import', join(dir, 'a'), '--name', 'base')
  assert.is(base.code, 0, base.stderr)
  const d = await xeno(store, 'overlay', 'diff', join(dir, 'b'), '--base', 'base', '--check', '--name', 'ov')
  assert.is(d.code, 0, d.stderr)
  assert.is(d.json.checked, true)
  assert.equal([d.json.stats.added, d.json.stats.changed, d.json.stats.whiteouts], [1, 1, 1])
  const again = await xeno(store, 'overlay', 'diff', d.json.target, '--base', `cas://${base.json.root as string}`)
  assert.is(again.json.root, d.json.root, 'diffing the imported root gives the same overlay')
  const bad = await xeno(store, 'overlay', 'diff', join(dir, 'b'))
  assert.is(bad.code, 2)
})

Cli('build from OCI markers, and commit a writable layer', async ({ dir }) => {
  const store = join(dir, 'store')
  await tree(join(dir, 'a'), { 'etc/passwd': 'root', 'etc/hosts': 'h', 'var/log/x': 'log' })
  await tree(join(dir, 'add'), { 'etc/motd': 'hello', 'etc/.wh.hosts': '' })
  const base = await xeno(store, 'template', 'import', join(dir, 'a'), '--name', 'base')
  const b = await xeno(store, 'overlay', 'build', join(dir, 'add'), '--whiteout', '/var/log', '--base', 'base')
  assert.is(b.code, 0, b.stderr)
  assert.equal([b.json.whiteouts, b.json.opaque], [2, 0])
  // A writable layer as an instance would leave it.
  const layerDir = join(dir, 'layer')
  {
    const s = await openLocalStore(store)
    const layer = await openWritableLayer(layerDir)
    const v = await openUnionView({ lowers: [openTree(s, CID.parse(base.json.root))], store: s, writable: layer })
    await v.write('/etc/passwd', 4, new TextEncoder().encode(':x:0:0'))
    await v.unlink('/etc/hosts')
    await v.mkdir('/srv')
    await layer.close(); await s.close()
  }
  const c = await xeno(store, 'overlay', 'commit', layerDir, '--layer', 'base', '--name', 'instance-1')
  assert.is(c.code, 0, c.stderr)
  assert.is(c.json.files, 1)
  const s = await openLocalStore(store)
  try {
    const v = await openUnionView({ lowers: [openTree(s, CID.parse(c.json.root)), openTree(s, CID.parse(base.json.root))], store: s })
    const seen = await dump(v)
    assert.is(seen['/etc/passwd'], 'file 644 root:x:0:0')
    assert.is(seen['/etc/hosts'], undefined)
    assert.is(seen['/srv'], 'dir 755')
    assert.is((await s.resolvePin('instance-1'))?.toString(), c.json.root)
  } finally { await s.close() }
  const notLayer = await xeno(store, 'overlay', 'commit', join(dir, 'a'))
  assert.is(notLayer.code, 1)
})

Cli.run()
