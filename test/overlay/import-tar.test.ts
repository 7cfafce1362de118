import { execFileSync } from 'node:child_process'
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { exportDirectory } from '../../src/overlay/export-dir.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { importTar } from '../../src/overlay/import-tar.js'
import { openTree } from '../../src/overlay/tree.js'
import { rejects } from '../helpers/assert.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { makeFullTree } from '../helpers/trees.js'

const TAR_XATTRS = ['--xattrs', '--xattrs-include=*']

const ImportTar = suite<{ dir: string }>('importTar')
ImportTar.before(async (ctx) => {
  ctx.dir = await tmpdir()
  mkdirSync(join(ctx.dir, 'src'))
  makeFullTree(join(ctx.dir, 'src'), { socket: false })
})
ImportTar.after(async (ctx) => { await rmrf(ctx.dir) })

ImportTar('a POSIX tar of a directory (GNU tar) imports to the same root as the directory', async ({ dir }) => {
  const tar = join(dir, 'posix.tar')
  execFileSync('tar', ['--format=posix', ...TAR_XATTRS, '-C', join(dir, 'src'), '-cf', tar, '.'])
  const fromDir = await importDirectory(join(dir, 'src'), new MemoryChunkStore())
  const store = new MemoryChunkStore()
  const fromTar = await importTar(createReadStream(tar, { highWaterMark: 7777 }), store)
  assert.is(fromTar.root.toString(), fromDir.root.toString())
  assert.is(fromTar.hardlinks, fromDir.hardlinks)
  assert.is(fromTar.files, fromDir.files)
  const out = join(dir, 'out')
  await exportDirectory(store, fromTar.root, out)
  assert.is(execFileSync('rsync', ['-aHAXn', '--checksum', '--itemize-changes', `${join(dir, 'src')}/`, `${out}/`], { encoding: 'utf8' }), '')
})

ImportTar('a GNU tar with long names, members out of order and no parent entries imports', async ({ dir }) => {
  const src = join(dir, 'gnu')
  const long = 'd'.repeat(120)
  mkdirSync(join(src, long, 'sub'), { recursive: true })
  writeFileSync(join(src, long, 'sub', `${'f'.repeat(150)}.txt`), 'long name\n')
  const tar = join(dir, 'gnu.tar')
  execFileSync('tar', ['--format=gnu', '-C', src, '-cf', tar, `${long}/sub/${'f'.repeat(150)}.txt`, long])
  const store = new MemoryChunkStore()
  const { root } = await importTar(createReadStream(tar), store)
  const tree = openTree(store, root)
  const f = await tree.statRequired(`/${long}/sub/${'f'.repeat(150)}.txt`)
  assert.is(f.size, 10)
  assert.is((await tree.statRequired(`/${long}`)).mode, 0o755)
  assert.is((await tree.rootEntry()).mtimeNs, 0n)
})

ImportTar('a stream that is not a tar rejects OVERLAY_IMPORT_FAILED', async () => {
  const junk = new Uint8Array(1024).fill(65)
  await rejects(importTar((async function * () { yield junk })(), new MemoryChunkStore()), 'OVERLAY_IMPORT_FAILED')
})

ImportTar('a truncated tar rejects OVERLAY_IMPORT_FAILED', async ({ dir }) => {
  const tar = join(dir, 'posix2.tar')
  execFileSync('tar', ['--format=posix', '-C', join(dir, 'src'), '-cf', tar, './bin'])
  const bytes = new Uint8Array(execFileSync('head', ['-c', '4000', tar]))
  await rejects(importTar((async function * () { yield bytes })(), new MemoryChunkStore()), 'OVERLAY_IMPORT_FAILED')
})

ImportTar('a hard link to a file absent from the archive rejects OVERLAY_IMPORT_FAILED', async ({ dir }) => {
  const tar = join(dir, 'link.tar')
  execFileSync('tar', ['--format=posix', '-C', join(dir, 'src'), '-cf', tar, './links/h1', './etc/h0'])
  const ok = await importTar(createReadStream(tar), new MemoryChunkStore())
  assert.is(ok.hardlinks, 1)
  execFileSync('tar', ['--format=posix', '--hard-dereference', '-C', join(dir, 'src'), '-cf', tar, './etc/h0'])
  const store = new MemoryChunkStore()
  const single = await importTar(createReadStream(tar), store)
  assert.is((await openTree(store, single.root).statRequired('/etc/h0')).hardlink, undefined)
})

ImportTar.run()
