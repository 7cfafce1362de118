import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createNfsServer, viewFilesystem, type NfsServer } from '../../src/nfs/index.js'
import { DirView } from '../../src/nfs/dir-view.js'
import { ACCESS3, NFSPROC3, nfsstat3 } from '../../src/nfs/nfs3/consts.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { seededBytes } from '../helpers/bytes.js'
import { NfsClient, postOp, sattr, wcc } from './nfs-client.js'

interface Ctx { dir: string, server: NfsServer, c: NfsClient, root: Uint8Array }
const Nfs = suite<Ctx>('NFSv3 procedures over a directory export')

Nfs.before.each(async (ctx) => {
  ctx.dir = await tmpdir('xeno-nfs-')
  await mkdir(join(ctx.dir, 'tree'))
  await writeFile(join(ctx.dir, 'tree', 'hello.txt'), 'hello\n', { mode: 0o640 })
  ctx.server = await createNfsServer({
    stateDir: join(ctx.dir, 'state'),
    exports: [
      { name: '/export', fs: viewFilesystem(new DirView(join(ctx.dir, 'tree'))), allow: ['127.0.0.1'] },
      { name: '/other', fs: viewFilesystem(new DirView(join(ctx.dir, 'tree'))), allow: ['127.0.0.0/8'] }
    ]
  })
  ctx.c = await NfsClient.connect(ctx.server.port)
  const m = await ctx.c.mount('/export')
  assert.is(m.status, 0)
  ctx.root = m.fh!
})
Nfs.after.each(async (ctx) => { await ctx.c.close(); await ctx.server.close(); await rmrf(ctx.dir) })

Nfs('MNT of an unknown export is MNT3ERR_NOENT; the root is a directory with nlink >= 2', async ({ c, root }) => {
  assert.is((await c.mount('/nope')).status, 2)
  const a = await c.getattr(root)
  assert.is(a.status, 0)
  assert.is(a.attrs!.type, 2)
  assert.ok(a.attrs!.nlink >= 2)
  assert.is(root.length <= 64, true)
})

Nfs('MNT of a subdirectory (as libnfs mounts a file\'s parent) follows a rename made since, and refuses a file', async ({ c, root, dir }) => {
  await mkdir(join(dir, 'tree', 'sub'))
  const a = await c.mount('/export/sub')
  assert.is(a.status, 0)
  const again = await c.mount('/export//sub/')
  assert.is(again.status, 0)
  assert.equal(again.fh, a.fh)
  assert.is((await c.mount('/export/hello.txt')).status, 20, 'MNT3ERR_NOTDIR')
  const renamed = await c.call(NFSPROC3.RENAME, (w) => { w.opaque(root).string('sub').opaque(root).string('moved') })
  assert.is(renamed.status, 0)
  assert.is((await c.mount('/export/sub')).status, 2, 'MNT3ERR_NOENT after the rename')
  assert.is((await c.mount('/export/moved')).status, 0)
})

Nfs('forged handles are BADHANDLE, handles of another export are STALE', async ({ c, root }) => {
  const forged = Uint8Array.from(root); forged[8]! ^= 1
  assert.is((await c.getattr(forged)).status, nfsstat3.NFS3ERR_BADHANDLE)
  assert.is((await c.getattr(root.subarray(0, 10))).status, nfsstat3.NFS3ERR_BADHANDLE)
  const otherMac = Uint8Array.from(root); otherMac[1]! ^= 0xff
  assert.is((await c.getattr(otherMac)).status, nfsstat3.NFS3ERR_BADHANDLE, 'the MAC covers the export id')
  const other = (await c.mount('/other')).fh!
  const inOther = await c.lookup(other, 'hello.txt')
  assert.is(inOther.status, 0)
  assert.ok(Buffer.compare(inOther.fh!, (await c.lookup(root, 'hello.txt')).fh!) !== 0, 'handles differ per export')
})

Nfs('a client address that is not allowed is refused at MOUNT and at every NFS call', async ({ c, server, root }) => {
  // The same calls by an allowed client first, so that their replies are kept: a kept reply is
  // never sent to an address the export does not allow.
  assert.is((await c.getattr(root)).status, 0)
  assert.is((await c.lookup(root, 'hello.txt')).status, 0)
  const stranger = await NfsClient.connect(server.port, '127.0.0.2')
  try {
    assert.is((await stranger.mount('/export')).status, 13)
    assert.is((await stranger.getattr(root)).status, nfsstat3.NFS3ERR_ACCES)
    assert.is((await stranger.lookup(root, 'hello.txt')).status, nfsstat3.NFS3ERR_ACCES)
    assert.is((await stranger.mount('/other')).status, 0, 'the CIDR export allows it')
  } finally { await stranger.close() }
})

Nfs('calls without AUTH_SYS credentials are denied AUTH_TOOWEAK, except NULL', async ({ c, root }) => {
  const weak = await c.rpc.call(100003, 3, NFSPROC3.GETATTR, (w) => { w.opaque(root) }, null)
  assert.ok(weak.kind === 'denied' && weak.rejectStat === 1)
  if (weak.kind === 'denied') assert.is(weak.body.uint32(), 5)
  const nul = await c.rpc.call(100003, 3, NFSPROC3.NULL, () => {}, null)
  assert.ok(nul.kind === 'accepted' && nul.stat === 0)
})

Nfs('CREATE, WRITE (all stabilities), READ and COMMIT with one write verifier', async ({ c, root, dir }) => {
  const f = await c.create(root, 'new.bin')
  assert.is(f.status, 0)
  const data = seededBytes(5, 1_048_576)
  const w1 = await c.write(f.fh!, 0n, data.subarray(0, 600_000), 0)
  assert.is(w1.status, 0); assert.is(w1.count, 600_000); assert.is(w1.committed, 0)
  const w2 = await c.write(f.fh!, 600_000n, data.subarray(600_000), 2)
  assert.is(w2.committed, 2)
  assert.equal([...w1.verf!], [...w2.verf!])
  const commit = await c.call(NFSPROC3.COMMIT, (w) => { w.opaque(f.fh!).uint64(0n).uint32(0) })
  assert.is(commit.status, 0)
  wcc(commit.r)
  assert.equal([...commit.r.opaqueFixed(8)], [...w1.verf!])
  const r = await c.read(f.fh!, 0n, 1_048_576)
  assert.is(r.status, 0); assert.ok(r.eof)
  assert.is(Buffer.compare(r.data!, data), 0)
  assert.is(Buffer.compare(await readFile(join(dir, 'tree', 'new.bin')), data), 0)
  assert.is((await c.write(f.fh!, 2n ** 60n, Uint8Array.of(1))).status, nfsstat3.NFS3ERR_FBIG)
  const past = await c.read(f.fh!, 5_000_000n, 10)
  assert.is(past.data!.length, 0); assert.ok(past.eof)
})

Nfs('CREATE GUARDED on an existing name is EXIST; EXCLUSIVE is idempotent with the same verifier', async ({ c, root }) => {
  assert.is((await c.create(root, 'hello.txt', 1)).status, nfsstat3.NFS3ERR_EXIST)
  const a = await c.create(root, 'x', 2)
  const b = await c.create(root, 'x', 2)
  assert.is(a.status, 0); assert.is(b.status, 0)
  assert.equal([...a.fh!], [...b.fh!])
  assert.is((await c.create(root, 'x', 1)).status, nfsstat3.NFS3ERR_EXIST)
})

Nfs('MKDIR, SYMLINK, READLINK, MKNOD, LINK, RENAME, REMOVE and RMDIR', async ({ c, root }) => {
  const d = NfsClient.created(await c.call(NFSPROC3.MKDIR, (w) => { w.opaque(root).string('d'); sattr(w, { mode: 0o750 }) }))
  assert.is(d.status, 0); assert.is(d.attrs!.mode, 0o750); assert.is(d.attrs!.type, 2)
  const l = NfsClient.created(await c.call(NFSPROC3.SYMLINK, (w) => { w.opaque(d.fh!).string('ln'); sattr(w); w.string('../hello.txt') }))
  assert.is(l.status, 0); assert.is(l.attrs!.type, 5)
  const rl = await c.call(NFSPROC3.READLINK, (w) => { w.opaque(l.fh!) })
  postOp(rl.r)
  assert.is(rl.r.string(), '../hello.txt')
  const fifo = NfsClient.created(await c.call(NFSPROC3.MKNOD, (w) => { w.opaque(d.fh!).string('p').uint32(7); sattr(w, { mode: 0o600 }) }))
  assert.is(fifo.status, 0); assert.is(fifo.attrs!.type, 7)
  const bad = await c.call(NFSPROC3.MKNOD, (w) => { w.opaque(d.fh!).string('q').uint32(1) })
  assert.is(bad.status, nfsstat3.NFS3ERR_BADTYPE)
  const hello = (await c.lookup(root, 'hello.txt')).fh!
  const link = await c.call(NFSPROC3.LINK, (w) => { w.opaque(hello).opaque(d.fh!).string('hard') })
  assert.is(link.status, 0)
  assert.is(postOp(link.r)!.nlink, 2)
  assert.is((await c.call(NFSPROC3.RMDIR, (w) => { w.opaque(root).string('d') })).status, nfsstat3.NFS3ERR_NOTEMPTY)
  const mv = await c.call(NFSPROC3.RENAME, (w) => { w.opaque(d.fh!).string('hard').opaque(root).string('moved') })
  assert.is(mv.status, 0)
  assert.is((await c.lookup(root, 'moved')).status, 0)
  assert.is((await c.lookup(d.fh!, 'hard')).status, nfsstat3.NFS3ERR_NOENT)
  for (const name of ['ln', 'p']) assert.is((await c.call(NFSPROC3.REMOVE, (w) => { w.opaque(d.fh!).string(name) })).status, 0)
  assert.is((await c.call(NFSPROC3.REMOVE, (w) => { w.opaque(root).string('d') })).status, nfsstat3.NFS3ERR_ISDIR)
  assert.is((await c.call(NFSPROC3.RMDIR, (w) => { w.opaque(root).string('d') })).status, 0)
  assert.is((await c.getattr(d.fh!)).status, nfsstat3.NFS3ERR_STALE)
  assert.is((await c.call(NFSPROC3.REMOVE, (w) => { w.opaque(root).string('..') })).status, nfsstat3.NFS3ERR_INVAL)
})

Nfs('READDIR and READDIRPLUS page through 300 entries, each name exactly once', async ({ c, root }) => {
  const want: string[] = ['hello.txt']
  await Promise.all(Array.from({ length: 299 }, async (_, i) => {
    const name = `file-${String(i).padStart(4, '0')}-${'x'.repeat(i % 40)}`
    want.push(name)
    assert.is((await c.create(root, name)).status, 0)
  }))
  const plain = await c.readdirAll(root, 1024)
  assert.is(plain.status, 0)
  assert.ok(plain.pages > 5)
  assert.equal([...plain.names].sort(), [...want].sort())
  const plus = await c.readdirAll(root, 1024, true)
  assert.equal([...plus.names].sort(), [...want].sort())
  const tiny = await c.call(NFSPROC3.READDIR, (w) => { w.opaque(root).uint64(0n).opaqueFixed(new Uint8Array(8)).uint32(50) })
  assert.is(tiny.status, nfsstat3.NFS3ERR_TOOSMALL)
  const file = (await c.lookup(root, 'hello.txt')).fh!
  assert.is((await c.readdirAll(file)).status, nfsstat3.NFS3ERR_NOTDIR)
})

Nfs('READDIR and READDIRPLUS list "." and ".." first (the directory and its parent; the root is its own parent), once, also when a page ends between them', async ({ c, root }) => {
  const rootId = (await c.getattr(root)).attrs!.fileid
  const d = NfsClient.created(await c.call(NFSPROC3.MKDIR, (w) => { w.opaque(root).string('sub'); sattr(w, { mode: 0o755 }) }))
  assert.is(d.status, 0)
  assert.is((await c.create(d.fh!, 'inner')).status, 0)
  const subId = d.attrs!.fileid
  for (const plus of [false, true]) {
    const top = await c.readdirAll(root, 4096, plus)
    assert.equal(top.entries.slice(0, 2).map((e) => [e.name, e.id]), [['.', rootId], ['..', rootId]])
    assert.equal(top.entries.filter((e) => e.name === '.' || e.name === '..').length, 2)
    const sub = await c.readdirAll(d.fh!, 4096, plus)
    assert.equal(sub.entries.map((e) => [e.name, e.id]).slice(0, 2), [['.', subId], ['..', rootId]])
    assert.equal(sub.names, ['inner'])
    if (plus) {
      assert.equal([...sub.entries[0]!.fh!], [...d.fh!])
      assert.equal([...sub.entries[1]!.fh!], [...root])
    }
    // Resuming at each dot's cookie goes on with what follows it.
    const afterDot = await c.readdirAll(d.fh!, 4096, plus, sub.entries[0]!.cookie)
    assert.equal(afterDot.entries.map((e) => e.name), ['..', 'inner'])
    const afterDotDot = await c.readdirAll(d.fh!, 4096, plus, sub.entries[1]!.cookie)
    assert.equal(afterDotDot.entries.map((e) => e.name), ['inner'])
  }
  // Pages of one entry each (READDIR of 140 bytes: 108 around the entries, room for one entry3).
  const small = await c.readdirAll(d.fh!, 140)
  assert.equal(small.entries.map((e) => e.name), ['.', '..', 'inner'])
  assert.ok(small.pages >= 3)
})

Nfs('a repeated READDIRPLUS (answered from the listing cache) sees every create, rename, chmod and remove made since', async ({ c, root }) => {
  const names = async (): Promise<string[]> => (await c.readdirAll(root, 4096, true)).names.sort()
  const modeOf = async (name: string): Promise<number> => (await c.lookup(root, name)).attrs!.mode
  assert.equal(await names(), ['hello.txt'])
  assert.equal(await names(), ['hello.txt'], 'same answer twice')
  assert.is((await c.create(root, 'new.txt')).status, 0)
  assert.equal(await names(), ['hello.txt', 'new.txt'])
  assert.is((await c.call(NFSPROC3.RENAME, (w) => { w.opaque(root).string('new.txt').opaque(root).string('moved.txt') })).status, 0)
  assert.equal(await names(), ['hello.txt', 'moved.txt'])
  const plusMode = async (): Promise<number> => {
    const res = await c.call(NFSPROC3.READDIRPLUS, (w) => { w.opaque(root).uint64(0n).opaqueFixed(new Uint8Array(8)).uint32(4096).uint32(16384) })
    const r = res.r
    postOp(r); r.opaqueFixed(8)
    let mode = -1
    while (r.bool()) {
      r.uint64(); const name = r.string(); r.uint64()
      const a = postOp(r)
      if (name === 'hello.txt') mode = a!.mode
      if (r.bool()) r.opaque(64)
    }
    return mode
  }
  assert.is(await plusMode(), await modeOf('hello.txt'))
  const hello = (await c.lookup(root, 'hello.txt')).fh!
  assert.is((await c.call(NFSPROC3.SETATTR, (w) => { w.opaque(hello); sattr(w, { mode: 0o600 }); w.bool(false) })).status, 0)
  assert.is(await plusMode(), 0o600, 'attributes in the listing follow a chmod')
  assert.is((await c.call(NFSPROC3.REMOVE, (w) => { w.opaque(root).string('moved.txt') })).status, 0)
  assert.equal(await names(), ['hello.txt'])
})

Nfs('repeated GETATTR, LOOKUP, ACCESS and small READs (answered from the reply cache) follow writes and removes, and each caller gets its own ACCESS', async ({ c, root }) => {
  const f = (await c.create(root, 'grow.txt', 0, { mode: 0o600 })).fh!
  assert.is((await c.getattr(f)).attrs!.size, 0n)
  assert.is((await c.getattr(f)).attrs!.size, 0n)
  assert.is((await c.read(f, 0n, 10)).data!.length, 0)
  assert.is((await c.read(f, 0n, 10)).data!.length, 0)
  assert.is((await c.write(f, 0n, new Uint8Array(100).fill(7))).status, 0)
  assert.is((await c.getattr(f)).attrs!.size, 100n, 'GETATTR after a WRITE')
  assert.equal([...(await c.read(f, 0n, 10)).data!], new Array(10).fill(7), 'a small READ after a WRITE')
  assert.is((await c.lookup(root, 'grow.txt')).attrs!.size, 100n)
  const granted = async (): Promise<number> => {
    const res = await c.call(NFSPROC3.ACCESS, (w) => { w.opaque(f).uint32(ACCESS3.READ | ACCESS3.MODIFY) })
    postOp(res.r)
    return res.r.uint32()
  }
  const asRoot = await granted()
  assert.is(await granted(), asRoot)
  c.cred = { uid: 4321, gid: 4321 }
  assert.is(await granted(), 0, 'another uid is not answered with root\'s result')
  c.cred = { uid: 0, gid: 0 }
  assert.is(await granted(), asRoot)
  assert.is((await c.call(NFSPROC3.REMOVE, (w) => { w.opaque(root).string('grow.txt') })).status, 0)
  assert.is((await c.lookup(root, 'grow.txt')).status, nfsstat3.NFS3ERR_NOENT, 'LOOKUP after a REMOVE')
  assert.is((await c.getattr(f)).status === 0, false, 'GETATTR of a removed file')
})

Nfs('SETATTR changes mode, size and mtime, and honours the ctime guard', async ({ c, root }) => {
  const f = (await c.lookup(root, 'hello.txt'))
  const s = await c.call(NFSPROC3.SETATTR, (w) => { w.opaque(f.fh!); sattr(w, { mode: 0o600, size: 2n, mtime: [1_000_000, 5] }); w.bool(false) })
  assert.is(s.status, 0)
  const after = wcc(s.r)!
  assert.is(after.mode, 0o600); assert.is(after.size, 2n); assert.equal(after.mtime[0], 1_000_000)
  const g = await c.call(NFSPROC3.SETATTR, (w) => { w.opaque(f.fh!); sattr(w, { mode: 0o644 }); w.bool(true).uint32(1).uint32(2) })
  assert.is(g.status, nfsstat3.NFS3ERR_NOT_SYNC)
  const ok = await c.call(NFSPROC3.SETATTR, (w) => { w.opaque(f.fh!); sattr(w, { mode: 0o644 }); w.bool(true).uint32(after.ctime[0]).uint32(after.ctime[1]) })
  assert.is(ok.status, 0)
})

Nfs('ACCESS follows owner, group and other bits', async ({ c, root }) => {
  const f = (await c.lookup(root, 'hello.txt')).fh!
  const all = ACCESS3.READ | ACCESS3.MODIFY | ACCESS3.EXTEND | ACCESS3.EXECUTE
  const asRoot = await c.call(NFSPROC3.ACCESS, (w) => { w.opaque(f).uint32(all) })
  postOp(asRoot.r)
  assert.is(asRoot.r.uint32(), ACCESS3.READ | ACCESS3.MODIFY | ACCESS3.EXTEND)
  c.cred = { uid: 1000, gid: 1000 }
  const asUser = await c.call(NFSPROC3.ACCESS, (w) => { w.opaque(f).uint32(all) })
  postOp(asUser.r)
  assert.is(asUser.r.uint32(), 0)
})

Nfs('FSSTAT, FSINFO (1 MiB transfers) and PATHCONF', async ({ c, root }) => {
  const st = await c.call(NFSPROC3.FSSTAT, (w) => { w.opaque(root) })
  assert.is(st.status, 0)
  postOp(st.r); assert.ok(st.r.uint64() > 0n)
  const info = await c.call(NFSPROC3.FSINFO, (w) => { w.opaque(root) })
  postOp(info.r)
  assert.is(info.r.uint32(), 1_048_576)
  const pc = await c.call(NFSPROC3.PATHCONF, (w) => { w.opaque(root) })
  postOp(pc.r); pc.r.uint32()
  assert.is(pc.r.uint32(), 255)
  const nul = await c.rpc.call(100003, 3, NFSPROC3.NULL)
  assert.ok(nul.kind === 'accepted' && nul.stat === 0)
})

Nfs('LOOKUP of a missing name is NOENT, of a long name NAMETOOLONG, and "." and ".." resolve', async ({ c, root }) => {
  assert.is((await c.lookup(root, 'missing')).status, nfsstat3.NFS3ERR_NOENT)
  assert.is((await c.lookup(root, 'x'.repeat(300))).status, nfsstat3.NFS3ERR_NAMETOOLONG)
  assert.equal([...(await c.lookup(root, '.')).fh!], [...root])
  assert.equal([...(await c.lookup(root, '..')).fh!], [...root])
})

Nfs('sequential READs see a WRITE made between them (readahead is dropped on mutation)', async ({ c, root }) => {
  const f = await c.create(root, 'seq.bin')
  const data = seededBytes(8, 400_000)
  assert.is((await c.write(f.fh!, 0n, data)).status, 0)
  const first = await c.read(f.fh!, 0n, 131_072)
  assert.is(Buffer.compare(first.data!, data.subarray(0, 131_072)), 0)
  const patch = new Uint8Array(1000).fill(0xee)
  assert.is((await c.write(f.fh!, 131_072n, patch, 0)).status, 0)
  const second = await c.read(f.fh!, 131_072n, 131_072)
  assert.equal([...second.data!.subarray(0, 1000)], [...patch])
  assert.is(Buffer.compare(second.data!.subarray(1000), data.subarray(132_072, 262_144)), 0)
  const third = await c.read(f.fh!, 262_144n, 131_072)
  assert.is(Buffer.compare(third.data!, data.subarray(262_144, 393_216)), 0)
})

Nfs.run()
