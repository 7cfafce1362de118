import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { chown, mkdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createNfsServer, viewFilesystem, type NfsServer } from '../../src/nfs/index.js'
import { DirView } from '../../src/nfs/dir-view.js'
import { NFSPROC3, nfsstat3 } from '../../src/nfs/nfs3/consts.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { NfsClient, sattr } from './nfs-client.js'

/** Server-side permission checks with AUTH_SYS identities, and root squash. */
interface Ctx { dir: string, server: NfsServer, c: NfsClient, root: Uint8Array, squashed: Uint8Array }
const Perm = suite<Ctx>('permissions')

Perm.before.each(async (ctx) => {
  ctx.dir = await tmpdir('xeno-nfs-perm-')
  const tree = join(ctx.dir, 'tree')
  await mkdir(join(tree, 'tmp'), { recursive: true, mode: 0o777 })
  await mkdir(join(tree, 'etc'), { mode: 0o755 })
  await writeFile(join(tree, 'etc', 'passwd'), 'root:x:0:0', { mode: 0o644 })
  await writeFile(join(tree, 'etc', 'shadow'), 'secret', { mode: 0o600 })
  await writeFile(join(tree, 'tmp', 'theirs'), 'x', { mode: 0o666 })
  await chown(join(tree, 'tmp', 'theirs'), 2000, 2000)
  const { chmod } = await import('node:fs/promises')
  await chmod(join(tree, 'tmp'), 0o1777)
  const fs = viewFilesystem(new DirView(tree), { cacheAttrs: false })
  ctx.server = await createNfsServer({
    stateDir: join(ctx.dir, 'state'),
    exports: [
      { name: '/export', fs, allow: ['127.0.0.1'] },
      { name: '/squashed', fs, allow: ['127.0.0.1'], rootSquash: true }
    ]
  })
  ctx.c = await NfsClient.connect(ctx.server.port)
  ctx.root = (await ctx.c.mount('/export')).fh!
  ctx.squashed = (await ctx.c.mount('/squashed')).fh!
  ctx.c.cred = { uid: 1000, gid: 1000 }
})
Perm.after.each(async (ctx) => { await ctx.c.close(); await ctx.server.close(); await rmrf(ctx.dir) })

Perm('an ordinary user cannot write, read or chmod what root owns', async ({ c, root }) => {
  const etc = (await c.lookup(root, 'etc')).fh!
  const passwd = (await c.lookup(etc, 'passwd')).fh!
  const shadow = (await c.lookup(etc, 'shadow')).fh!
  assert.is((await c.write(passwd, 0n, new Uint8Array(1))).status, nfsstat3.NFS3ERR_ACCES)
  assert.is((await c.read(shadow, 0n, 10)).status, nfsstat3.NFS3ERR_ACCES)
  assert.is((await c.read(passwd, 0n, 10)).status, 0)
  const chmod = await c.call(NFSPROC3.SETATTR, (w) => { w.opaque(passwd); sattr(w, { mode: 0o666 }); w.bool(false) })
  assert.is(chmod.status, nfsstat3.NFS3ERR_PERM)
  assert.is((await c.create(etc, 'new')).status, nfsstat3.NFS3ERR_ACCES)
  assert.is((await c.call(NFSPROC3.REMOVE, (w) => { w.opaque(etc).string('passwd') })).status, nfsstat3.NFS3ERR_ACCES)
  const tmp = (await c.lookup(root, 'tmp')).fh!
  const dev = await c.call(NFSPROC3.MKNOD, (w) => { w.opaque(tmp).string('dev').uint32(4); sattr(w); w.uint32(1).uint32(3) })
  assert.is(dev.status, nfsstat3.NFS3ERR_PERM)
})

Perm('a sticky directory lets users create and remove only their own files', async ({ c, root, dir }) => {
  const tmp = (await c.lookup(root, 'tmp')).fh!
  const mine = await c.create(tmp, 'mine')
  assert.is(mine.status, 0)
  assert.is(mine.attrs!.uid, 1000)
  assert.is((await stat(join(dir, 'tree', 'tmp', 'mine'))).uid, 1000)
  assert.is((await c.call(NFSPROC3.REMOVE, (w) => { w.opaque(tmp).string('theirs') })).status, nfsstat3.NFS3ERR_ACCES)
  assert.is((await c.call(NFSPROC3.RENAME, (w) => { w.opaque(tmp).string('theirs').opaque(tmp).string('stolen') })).status, nfsstat3.NFS3ERR_ACCES)
  const chown = await c.call(NFSPROC3.SETATTR, (w) => { w.opaque(mine.fh!); sattr(w, { uid: 0 }); w.bool(false) })
  assert.is(chown.status, nfsstat3.NFS3ERR_PERM)
  assert.is((await c.call(NFSPROC3.REMOVE, (w) => { w.opaque(tmp).string('mine') })).status, 0)
})

Perm('root squash maps uid 0 to nobody', async ({ c, squashed, root }) => {
  c.cred = { uid: 0, gid: 0 }
  const etc = (await c.lookup(squashed, 'etc')).fh!
  const passwd = (await c.lookup(etc, 'passwd')).fh!
  assert.is((await c.write(passwd, 0n, new Uint8Array(1))).status, nfsstat3.NFS3ERR_ACCES)
  const tmp = (await c.lookup(squashed, 'tmp')).fh!
  const made = await c.create(tmp, 'by-root')
  assert.is(made.attrs!.uid, 65534)
  const rootEtc = (await c.lookup(root, 'etc')).fh!
  assert.is((await c.write((await c.lookup(rootEtc, 'passwd')).fh!, 0n, new TextEncoder().encode('R'))).status, 0, 'the other export does not squash')
})

Perm.run()
