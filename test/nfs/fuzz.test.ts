import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createNfsServer, viewFilesystem, type NfsServer } from '../../src/nfs/index.js'
import { DirView } from '../../src/nfs/dir-view.js'
import { decodeCall } from '../../src/nfs/rpc.js'
import { XdrError } from '../../src/nfs/errors.js'
import { RecordDecoder, recordMark } from '../../src/nfs/record.js'
import { NFSPROC3 } from '../../src/nfs/nfs3/consts.js'
import { XdrWriter } from '../../src/nfs/xdr.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { seededBytes, seededRandom } from '../helpers/bytes.js'
import { RpcClient } from './client.js'

/**
 * Fuzzing: random and mutated records must never crash the decoder or the server; after the
 * storm the server still answers, and its heap has not grown without bound.
 */
interface Ctx { dir: string, server: NfsServer, root: Uint8Array }
const Fuzz = suite<Ctx>('fuzz')

Fuzz.before(async (ctx) => {
  ctx.dir = await tmpdir('xeno-nfs-fuzz-')
  await mkdir(join(ctx.dir, 'tree', 'sub'), { recursive: true })
  await writeFile(join(ctx.dir, 'tree', 'f'), 'data')
  ctx.server = await createNfsServer({
    stateDir: join(ctx.dir, 'state'),
    maxRecordSize: 65_536,
    exports: [{ name: '/export', fs: viewFilesystem(new DirView(join(ctx.dir, 'tree'))), allow: ['127.0.0.1'] }]
  })
  const c = await RpcClient.connect(ctx.server.port)
  const m = await c.call(100005, 3, 1, (w) => { w.string('/export') })
  assert.ok(m.kind === 'accepted')
  if (m.kind === 'accepted') { assert.is(m.body.uint32(), 0); ctx.root = Uint8Array.from(m.body.opaque(64)) }
  await c.close()
})
Fuzz.after(async (ctx) => { await ctx.server.close(); await rmrf(ctx.dir) })

/** Valid calls of every procedure, to be mutated. */
function seeds (root: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const proc of Object.values(NFSPROC3)) {
    const w = new XdrWriter().uint32(proc + 1).uint32(0).uint32(2).uint32(100003).uint32(3).uint32(proc)
    w.uint32(1).opaque(new XdrWriter().uint32(0).string('h').uint32(0).uint32(0).uint32(0).bytes()).uint32(0).uint32(0)
    w.opaque(root).string('f').uint64(0n).uint32(64).uint32(0).opaque(Uint8Array.of(1, 2, 3)).uint32(0).uint32(0)
    out.push(w.bytes())
  }
  return out
}

function mutate (msg: Uint8Array, rand: () => number): Uint8Array {
  const m = Uint8Array.from(msg)
  const kind = Math.floor(rand() * 4)
  if (kind === 0) { for (let i = 0; i < 1 + rand() * 4; i++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256) }
  if (kind === 1) return m.subarray(0, Math.floor(rand() * m.length))
  if (kind === 2) { const at = 4 * Math.floor(rand() * (m.length / 4)); new DataView(m.buffer).setUint32(at, [0, 1, 0xffffffff, 0x7fffffff, 64, 65][Math.floor(rand() * 6)]!) }
  if (kind === 3) return Buffer.concat([m, seededBytes(Math.floor(rand() * 1e6), Math.floor(rand() * 64))])
  return m
}

Fuzz('decodeCall only ever throws XdrError on 20,000 random and mutated messages', ({ root }) => {
  const rand = seededRandom(11)
  const base = seeds(root)
  for (let i = 0; i < 20_000; i++) {
    const msg = i % 2 === 0 ? seededBytes(i, Math.floor(rand() * 120)) : mutate(base[i % base.length]!, rand)
    try { decodeCall(msg) } catch (err) { assert.instance(err, XdrError) }
  }
})

Fuzz('the record decoder survives random headers and bytes within its memory bound', () => {
  const rand = seededRandom(12)
  let records = 0
  const d = new RecordDecoder({ record: (b) => { records++; assert.ok(b.length <= 4096) }, oversized: () => {} }, 4096)
  for (let i = 0; i < 2000; i++) d.push(seededBytes(i, 1 + Math.floor(rand() * 300)))
  assert.ok(records >= 0)
})

Fuzz('the server answers or ignores 5,000 mutated calls, then still serves GETATTR', async ({ server, root }) => {
  const rand = seededRandom(13)
  const base = seeds(root)
  const before = process.memoryUsage().heapUsed
  for (let round = 0; round < 10; round++) {
    const c = await RpcClient.connect(server.port)
    const chunks: Uint8Array[] = []
    for (let i = 0; i < 500; i++) {
      const m = mutate(base[Math.floor(rand() * base.length)]!, rand)
      chunks.push(recordMark(m.length), m)
    }
    c.writeRaw(Buffer.concat(chunks))
    const ping = await c.call(100003, 3, 0)
    assert.ok(ping.kind === 'accepted' && ping.stat === 0, 'the connection still works after garbage')
    // A 2 GiB record is streamed into the void; the server must not buffer it.
    c.writeRaw(Buffer.concat([Uint8Array.of(0x7f, 0xff, 0xff, 0xff), seededBytes(round, 1_000_000)]))
    await c.close()
  }
  const c = await RpcClient.connect(server.port)
  const r = await c.call(100003, 3, NFSPROC3.GETATTR, (w) => { w.opaque(root) })
  assert.ok(r.kind === 'accepted' && r.stat === 0)
  if (r.kind === 'accepted') assert.is(r.body.uint32(), 0)
  await c.close()
  globalThis.gc?.()
  assert.ok(process.memoryUsage().heapUsed - before < 64 * 1024 * 1024, 'heap stays bounded')
  assert.ok(server.stats.calls > 1000)
})

Fuzz.run()
