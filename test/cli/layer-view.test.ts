import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

const XENO = new URL('../../../bin/xeno', import.meta.url).pathname
const Layers = suite<{ dir: string, store: string }>('ls, cat and export of a --layer stack')

function xeno (store: string, ...args: string[]): { code: number | null, out: string, err: string } {
  const r = spawnSync(process.execPath, [XENO, ...args, '--store', store], { encoding: 'utf8' })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

function json (store: string, ...args: string[]): any {
  const r = xeno(store, ...args, '--json')
  assert.is(r.code, 0, r.err)
  return JSON.parse(r.out)
}

Layers.before.each(async (ctx) => {
  ctx.dir = await tmpdir()
  ctx.store = join(ctx.dir, 'store')
  const base = join(ctx.dir, 'base')
  mkdirSync(join(base, 'etc'), { recursive: true })
  writeFileSync(join(base, 'etc/hostname'), 'template\n')
  writeFileSync(join(base, 'etc/motd'), 'hello\n')
  json(ctx.store, 'template', 'import', base, '--name', 'base')
  const web = join(ctx.dir, 'web')
  mkdirSync(join(web, 'etc'), { recursive: true })
  writeFileSync(join(web, 'etc/hostname'), 'web-1\n')
  writeFileSync(join(web, 'etc/web.conf'), 'listen 8080\n')
  json(ctx.store, 'overlay', 'diff', web, '--base', 'base', '--name', 'web')
})
Layers.after.each(async (ctx) => { await rmrf(ctx.dir) })

Layers('ls lists the union of the stack, whiteouts applied', ({ store }) => {
  const listed = json(store, 'ls', '/etc', '--layer', 'web', '--layer', 'base')
  const names = (listed.entries ?? listed).map((e: { name: string }) => e.name.replace(/^.*\//, '')).sort()
  assert.equal(names, ['hostname', 'web.conf'])
})

Layers('cat reads the top layer first', ({ store }) => {
  const r = xeno(store, 'cat', '/etc/hostname', '--layer', 'web', '--layer', 'base')
  assert.is(r.code, 0, r.err)
  assert.is(r.out, 'web-1\n')
  assert.is(xeno(store, 'cat', 'base:/etc/hostname').out, 'template\n')
})

Layers('export writes the union; without ROOT or --layer it is a usage error', ({ dir, store }) => {
  const out = join(dir, 'out')
  json(store, 'export', out, '--layer', 'web', '--layer', 'base')
  assert.is(readFileSync(join(out, 'etc/hostname'), 'utf8'), 'web-1\n')
  assert.ok(!existsSync(join(out, 'etc/motd')))
  rmSync(out, { recursive: true })
  const bad = xeno(store, 'export', out)
  assert.is(bad.code, 2)
  assert.match(bad.err, /--layer/)
})

Layers.run()
