import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { makeFullTree } from '../helpers/trees.js'

const BIN = new URL('../../../bin/xeno', import.meta.url).pathname

function xeno (store: string, ...args: string[]): { code: number, out: string, err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args, '--store', store], { encoding: 'utf8', env: { ...process.env, XENO_DEBUG: '' } })
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr }
}
/** The JSON a successful command printed (asserts exit 0, showing stderr otherwise). */
function json (r: { code: number, out: string, err: string }): any {
  assert.is(r.code, 0, r.err)
  return JSON.parse(r.out)
}
const rsync = (a: string, b: string): string =>
  spawnSync('rsync', ['-aHAXn', '--checksum', '--itemize-changes', `${a}/`, `${b}/`], { encoding: 'utf8' }).stdout

const Cli = suite<{ dir: string, store: string, src: string }>('xeno template import / export / ls / cat')
Cli.before(async (ctx) => {
  ctx.dir = await tmpdir()
  ctx.store = join(ctx.dir, 'store')
  ctx.src = join(ctx.dir, 'src')
  mkdirSync(ctx.src)
  makeFullTree(ctx.src, { bigDirEntries: 20, socket: false })
})
Cli.after(async (ctx) => { await rmrf(ctx.dir) })

Cli('import prints the root; --json has the counts; a second import stores nothing new', ({ store, src }) => {
  const r = json(xeno(store, 'template', 'import', src, '--name', 'base/1', '--json'))
  assert.match(r.root, /^bafy/)
  assert.ok(r.files > 20 && r.newChunks > 0 && r.storedBytes > 0)
  const second = xeno(store, 'template', 'import', src)
  assert.is(second.code, 0)
  assert.is(second.out.split('\n')[0], r.root)
  assert.match(second.out, / 0 new blocks/)
})

Cli('ls and cat read the tree by pin name, following symlinks inside it for cat', ({ store }) => {
  const ls = xeno(store, 'ls', 'base/1:/bin')
  assert.is(ls.code, 0, ls.err)
  assert.match(ls.out, /-rwsr-xr-x 0 0 +10 .* suid/)
  const dev = xeno(store, 'ls', 'base/1:/dev')
  assert.match(dev.out, /c[-rw]{9} 0 0 +1, 3 .* null/, dev.out + dev.err)
  assert.is(xeno(store, 'cat', 'base/1:/links/relative').out, 'key = value\n')
  const listed = json(xeno(store, 'ls', 'base/1:/etc/small.conf', '--json'))
  assert.is(listed.entries[0].uid, 1234)
  assert.equal(listed.entries[0].xattrs, ['user.comment'])
})

Cli('ls streams a sharded directory, -R heads every directory (empty ones too), and a closed pipe ends it quietly', ({ dir }) => {
  const src = join(dir, 'wide-src')
  const store = join(dir, 'wide-store')
  mkdirSync(join(src, 'many'), { recursive: true })
  mkdirSync(join(src, 'empty'))
  mkdirSync(join(src, 'sub', 'deeper'), { recursive: true })
  writeFileSync(join(src, 'sub', 'deeper', 'leaf'), 'leaf\n')
  for (let i = 0; i < 2500; i++) writeFileSync(join(src, 'many', `f${String(i).padStart(4, '0')}`), 'x'.repeat(i % 50))
  const root = json(xeno(store, 'template', 'import', src, '--json')).root as string
  const listed = json(xeno(store, 'ls', `${root}:/many`, '--json'))
  assert.is(listed.root, root)
  assert.is(listed.path, '/many')
  assert.is(listed.entries.length, 2500)
  assert.equal(listed.entries.slice(0, 2).map((e: { name: string }) => e.name), ['f0000', 'f0001'])
  assert.is(listed.entries[2499].path, '/many/f2499')
  assert.is(listed.entries[49].size, 49)
  const text = xeno(store, 'ls', `${root}:/many`)
  assert.is(text.out.trimEnd().split('\n').length, 2500)
  assert.match(text.out, /^-rw-r--r-- \d+ \d+ +0 .* f0000$/m)
  const rec = xeno(store, 'ls', root, '-R')
  assert.is(rec.code, 0, rec.err)
  const headings = rec.out.split('\n').filter((l) => l.endsWith(':'))
  assert.equal(headings, ['/:', '/empty:', '/many:', '/sub:', '/sub/deeper:'])
  assert.match(rec.out, /\/sub\/deeper:\n-rw-r--r-- \d+ \d+ 5 .* leaf\n/)
  const head = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" ls "${root}:/many" --store "${store}" | head -n 1`], { encoding: 'utf8' })
  assert.is(head.stderr, '')
  assert.match(head.stdout, /^-rw-r--r-- .* f0000\n$/)
})

Cli('export to a directory and to a tar reproduce the source', ({ dir, store, src }) => {
  const out = join(dir, 'out')
  const exp = xeno(store, 'export', 'base/1', out)
  assert.is(exp.code, 0, exp.err)
  assert.is(rsync(src, out), '')
  const tar = join(dir, 'out.tar')
  assert.is(xeno(store, 'export', 'base/1', tar).code, 0)
  assert.is(json(xeno(store, 'template', 'import', tar, '--json')).root, json(xeno(store, 'template', 'import', src, '--json')).root)
})

Cli('a tar on stdin imports', ({ dir, store }) => {
  const tar = readFileSync(join(dir, 'out.tar'))
  const r = spawnSync(process.execPath, [BIN, 'template', 'import', '-', '--store', store], { input: tar, encoding: 'utf8' })
  assert.is(r.status, 0, r.stderr)
  assert.match(r.stdout, /^bafy/)
})

Cli('errors are one line with a non-zero exit', ({ dir, store }) => {
  for (const args of [['template', 'import', join(dir, 'missing')], ['ls', 'nosuchpin'], ['cat', 'base/1:/etc'], ['export', 'base/1', join(dir, 'src')], ['ls', 'base/1:/nope']]) {
    const r = xeno(store, ...args)
    assert.is(r.code, 1, args.join(' '))
    assert.is(r.err.trim().split('\n').length, 1, r.err)
    assert.not.match(r.err, /\n\s+at /)
  }
  writeFileSync(join(dir, 'junk.tar'), 'x'.repeat(2000))
  const junk = xeno(store, 'template', 'import', join(dir, 'junk.tar'))
  assert.is(junk.code, 1)
  assert.match(junk.err, /checksum/)
})

Cli.run()
