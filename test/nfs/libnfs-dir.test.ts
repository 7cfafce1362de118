import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { chown, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createNfsServer, viewFilesystem, type NfsServer } from '../../src/nfs/index.js'
import { DirView } from '../../src/nfs/dir-view.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { seededBytes } from '../helpers/bytes.js'
import { libnfs, libnfsFailure, localLs, nfsUrl, parseLs, withoutDirSizes } from './real-client.js'

/** libnfs-utils against an export of a plain directory (the protocol path, no overlay). */
interface Ctx { dir: string, tree: string, server: NfsServer }
const Real = suite<Ctx>('libnfs-utils against a directory export')

const FILES: Record<string, Uint8Array> = {
  'empty': new Uint8Array(0),
  'small.txt': new TextEncoder().encode('hello world\n'),
  'a/b/c/deep.bin': seededBytes(1, 70_000),
  'a/big.bin': seededBytes(2, 2_621_441),
  'a/name with spaces': seededBytes(3, 5)
}

Real.before(async (ctx) => {
  ctx.dir = await tmpdir('xeno-nfs-real-')
  ctx.tree = join(ctx.dir, 'tree')
  for (const [path, bytes] of Object.entries(FILES)) {
    await mkdir(join(ctx.tree, path, '..'), { recursive: true })
    await writeFile(join(ctx.tree, path), bytes, { mode: path === 'small.txt' ? 0o600 : 0o644 })
  }
  await mkdir(join(ctx.tree, 'emptydir'), { mode: 0o700 })
  await chown(join(ctx.tree, 'a', 'big.bin'), 1000, 1001)
  await symlink('a/b', join(ctx.tree, 'link'))
  await promisify(execFile)('mkfifo', [join(ctx.tree, 'fifo')])
  ctx.server = await createNfsServer({
    stateDir: join(ctx.dir, 'state'),
    exports: [
      { name: '/export', fs: viewFilesystem(new DirView(ctx.tree)), allow: ['127.0.0.1'] },
      { name: '/closed', fs: viewFilesystem(new DirView(ctx.tree)), allow: ['127.0.0.2'] }
    ]
  })
})
Real.after(async (ctx) => { await ctx.server.close(); await rmrf(ctx.dir) })

Real('nfs-ls -R lists exactly the tree with kinds, modes, owners and sizes', async ({ server, tree }) => {
  const out = (await libnfs('nfs-ls', ['-R', nfsUrl(server.port, '/export')])).toString()
  assert.equal(withoutDirSizes(parseLs(out)), withoutDirSizes(await localLs(tree)))
})

Real('nfs-cat returns identical bytes for every file', async ({ server }) => {
  for (const [path, bytes] of Object.entries(FILES)) {
    if (path.includes(' ')) continue // libnfs URLs cannot carry a space
    const got = await libnfs('nfs-cat', [nfsUrl(server.port, `/export/${path}`)])
    assert.is(Buffer.compare(got, bytes), 0, path)
  }
})

Real('nfs-cp writes a new file into the export and reads it back', async ({ server, tree, dir }) => {
  const src = join(dir, 'upload.bin')
  const bytes = seededBytes(9, 3_000_001)
  await writeFile(src, bytes)
  await libnfs('nfs-cp', [src, nfsUrl(server.port, '/export/a/b/upload.bin')])
  assert.is(Buffer.compare(await readFile(join(tree, 'a', 'b', 'upload.bin')), bytes), 0)
  const back = join(dir, 'back.bin')
  await libnfs('nfs-cp', [nfsUrl(server.port, '/export/a/b/upload.bin'), back])
  assert.is(Buffer.compare(await readFile(back), bytes), 0)
})

Real('a client address the export does not name is refused', async ({ server }) => {
  const res = await libnfsFailure('nfs-ls', [nfsUrl(server.port, '/closed')])
  assert.ok(res.code !== 0)
  assert.match(res.stderr, /MNT3ERR_ACCES/)
  const missing = await libnfsFailure('nfs-ls', [nfsUrl(server.port, '/nothing')])
  assert.match(missing.stderr, /MNT3ERR_NOENT/)
})

Real.run()
