import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { chown, link, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { CID } from 'multiformats/cid'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { openTree } from '../../src/overlay/tree.js'
import { openUnionView, type UnionView } from '../../src/overlay/union-view.js'
import { openWritableLayer, type WritableLayer } from '../../src/overlay/writable.js'
import { createNfsServer, viewFilesystem, type NfsServer } from '../../src/nfs/index.js'
import { NFSPROC3, nfsstat3 } from '../../src/nfs/nfs3/consts.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { seededBytes } from '../helpers/bytes.js'
import { NfsClient, sattr } from './nfs-client.js'
import { libnfs, libnfsFailure, localLs, nfsUrl, parseLs, withoutDirSizes } from './real-client.js'

/**
 * The copy-on-write export: a template tree in a chunk store under a writable layer, read and
 * written by libnfs-utils. Writes land in the writable layer; the template never changes.
 */
interface Ctx { dir: string, tree: string, store: MemoryChunkStore, root: CID, layer: WritableLayer, view: UnionView, server: NfsServer }
const Cow = suite<Ctx>('libnfs-utils against a copy-on-write overlay export')

const FILES: Record<string, Uint8Array> = {
  'etc/hostname': new TextEncoder().encode('template\n'),
  'etc/empty': new Uint8Array(0),
  'usr/lib/big.so': seededBytes(21, 3_500_000),
  'usr/bin/tool': seededBytes(22, 100_000),
  'var/log/x': seededBytes(23, 4097)
}

async function start (ctx: Ctx): Promise<void> {
  ctx.layer = await openWritableLayer(join(ctx.dir, 'upper'))
  ctx.view = await openUnionView({ lowers: [openTree(ctx.store, ctx.root)], store: ctx.store, writable: ctx.layer })
  ctx.server = await createNfsServer({
    stateDir: join(ctx.dir, 'state'),
    exports: [{ name: '/vm', fs: viewFilesystem(ctx.view), allow: ['127.0.0.1'] }]
  })
}
async function stop (ctx: Ctx): Promise<void> {
  await ctx.server.close(); await ctx.view.close(); await ctx.layer.close()
}

Cow.before(async (ctx) => {
  ctx.dir = await tmpdir('xeno-nfs-cow-')
  ctx.tree = join(ctx.dir, 'tree')
  for (const [path, bytes] of Object.entries(FILES)) {
    await mkdir(join(ctx.tree, path, '..'), { recursive: true })
    await writeFile(join(ctx.tree, path), bytes, { mode: path.startsWith('usr/bin') ? 0o755 : 0o644 })
  }
  await chown(join(ctx.tree, 'var', 'log', 'x'), 104, 4)
  await mkdir(join(ctx.tree, 'tmp'), { mode: 0o777 })
  await symlink('usr/lib', join(ctx.tree, 'lib'))
  await link(join(ctx.tree, 'usr', 'bin', 'tool'), join(ctx.tree, 'usr', 'bin', 'tool2'))
  await promisify(execFile)('mkfifo', [join(ctx.tree, 'var', 'fifo')])
  ctx.store = new MemoryChunkStore()
  ctx.root = (await importDirectory(ctx.tree, ctx.store)).root
  await start(ctx)
})
Cow.after(async (ctx) => { await stop(ctx); await rmrf(ctx.dir) })

Cow('nfs-ls -R of the export lists exactly the template tree', async ({ server, tree }) => {
  const out = (await libnfs('nfs-ls', ['-R', nfsUrl(server.port, '/vm')])).toString()
  assert.equal(withoutDirSizes(parseLs(out)), withoutDirSizes(await localLs(tree)))
})

Cow('with 2 remembered handles, nodes and listed entries, the export still lists, reads and writes exactly', async (ctx) => {
  // The bounds of nfs serve --node-cache-entries, far below the tree's size: every lookup,
  // listing and handle evicts, and answers must not change.
  const tight = await createNfsServer({
    stateDir: join(ctx.dir, 'state'),
    handleCacheEntries: 2,
    exports: [{ name: '/vm', fs: viewFilesystem(ctx.view, { nodeCacheEntries: 2 }), allow: ['127.0.0.1'] }]
  })
  try {
    const out = (await libnfs('nfs-ls', ['-R', nfsUrl(tight.port, '/vm')])).toString()
    assert.equal(withoutDirSizes(parseLs(out)), withoutDirSizes(await localLs(ctx.tree)))
    for (const [path, bytes] of Object.entries(FILES)) {
      assert.is(Buffer.compare(await libnfs('nfs-cat', [nfsUrl(tight.port, `/vm/${path}`)]), bytes), 0, path)
    }
    const local = join(ctx.dir, 'tight-upload')
    await writeFile(local, seededBytes(24, 70_000))
    await libnfs('nfs-cp', [local, nfsUrl(tight.port, '/vm/tmp/tight-upload')])
    assert.is(Buffer.compare(await libnfs('nfs-cat', [nfsUrl(tight.port, '/vm/tmp/tight-upload')]), seededBytes(24, 70_000)), 0)
  } finally {
    await tight.close()
  }
})

Cow('nfs-cat returns identical bytes for every file', async ({ server }) => {
  for (const [path, bytes] of Object.entries(FILES)) {
    assert.is(Buffer.compare(await libnfs('nfs-cat', [nfsUrl(server.port, `/vm/${path}`)]), bytes), 0, path)
  }
  assert.is(Buffer.compare(await libnfs('nfs-cat', [nfsUrl(server.port, '/vm/usr/bin/tool2')]), FILES['usr/bin/tool']!), 0)
})

Cow('nfs-cp writes land in the writable layer and never change the template', async (ctx) => {
  // nfs-cp creates GUARDED (it cannot replace a file), so the template file is changed by WRITE.
  const c = await NfsClient.connect(ctx.server.port)
  const etc = (await c.lookup((await c.mount('/vm')).fh!, 'etc')).fh!
  const hostname = (await c.lookup(etc, 'hostname')).fh!
  const setSize = await c.call(NFSPROC3.SETATTR, (w) => { w.opaque(hostname); sattr(w, { size: 0n }); w.bool(false) })
  assert.is(setSize.status, 0)
  assert.is((await c.write(hostname, 0n, new TextEncoder().encode('instance-42\n'))).status, 0)
  await c.close()
  assert.match((await libnfsFailure('nfs-cp', [join(ctx.dir, 'tree', 'etc', 'empty'), nfsUrl(ctx.server.port, '/vm/etc/hostname')])).stderr, /EXIST/)
  const big = seededBytes(24, 2_000_000)
  await writeFile(join(ctx.dir, 'upload'), big)
  await libnfs('nfs-cp', [join(ctx.dir, 'upload'), nfsUrl(ctx.server.port, '/vm/tmp/upload.bin')])
  assert.is(Buffer.from(await libnfs('nfs-cat', [nfsUrl(ctx.server.port, '/vm/etc/hostname')])).toString(), 'instance-42\n')
  assert.is(Buffer.compare(await ctx.view.read('/tmp/upload.bin', 0, 3_000_000), big), 0)
  // The template, read on its own, is unchanged.
  const template = await openUnionView({ lowers: [openTree(ctx.store, ctx.root)], store: ctx.store })
  assert.is(Buffer.from(await template.read('/etc/hostname', 0, 100)).toString(), 'template\n')
  assert.is(await template.stat('/tmp/upload.bin'), undefined)
  await template.close()
  assert.is((await readFile(join(ctx.tree, 'etc', 'hostname'))).toString(), 'template\n')
})

Cow('handles stay valid across a server restart; forged handles are refused', async (ctx) => {
  const c = await NfsClient.connect(ctx.server.port)
  const root = (await c.mount('/vm')).fh!
  const usr = (await c.lookup(root, 'usr')).fh!
  const lib = (await c.lookup(usr, 'lib')).fh!
  const so = await c.lookup(lib, 'big.so')
  const created = await c.create(root, 'made-before-restart')
  await c.close()
  await stop(ctx)
  await start(ctx)
  const d = await NfsClient.connect(ctx.server.port)
  const again = await d.getattr(so.fh!)
  assert.is(again.status, 0)
  assert.is(again.attrs!.fileid, so.attrs!.fileid)
  const r = await d.read(so.fh!, 1_000_000n, 1000)
  assert.is(Buffer.compare(r.data!, FILES['usr/lib/big.so']!.subarray(1_000_000, 1_001_000)), 0)
  assert.is((await d.getattr(created.fh!)).status, 0)
  assert.is((await d.readdirAll(root)).names.includes('made-before-restart'), true)
  const forged = Uint8Array.from(so.fh!); forged[12]! ^= 0x40
  assert.is((await d.getattr(forged)).status, nfsstat3.NFS3ERR_BADHANDLE)
  const rm = await d.call(NFSPROC3.REMOVE, (w) => { w.opaque(root).string('made-before-restart') })
  assert.is(rm.status, 0)
  assert.is((await d.getattr(created.fh!)).status, nfsstat3.NFS3ERR_STALE)
  await d.close()
})

Cow('directories report nlink >= 2 and a file missing from the union is NOENT', async ({ server }) => {
  const c = await NfsClient.connect(server.port)
  const root = (await c.mount('/vm')).fh!
  const etc = await c.lookup(root, 'etc')
  assert.ok(etc.attrs!.nlink >= 2)
  assert.is((await c.lookup(root, 'nope')).status, nfsstat3.NFS3ERR_NOENT)
  await c.close()
  const res = await libnfsFailure('nfs-cat', [nfsUrl(server.port, '/vm/etc/nope')])
  assert.match(res.stderr, /NOENT/)
})

Cow.run()
