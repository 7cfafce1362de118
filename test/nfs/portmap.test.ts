import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createNfsServer, type NfsServer } from '../../src/nfs/index.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { RpcClient } from './client.js'
import { createSocket } from 'node:dgram'
import { XdrReader, XdrWriter } from '../../src/nfs/xdr.js'

const run = promisify(execFile)
const Pmap = suite('PORTMAP v2 (RFC 1833)')

Pmap('GETPORT maps NFS and MOUNT to their ports; DUMP lists them; SET is refused', async () => {
  const dir = await tmpdir()
  let server: NfsServer | undefined
  try {
    server = await createNfsServer({ stateDir: dir, exports: [], mountPort: 0, portmapPort: 0 })
    const c = await RpcClient.connect(server.portmapPort!)
    const getport = async (prog: number): Promise<number> => {
      const r = await c.call(100000, 2, 3, (w) => { w.uint32(prog).uint32(3).uint32(6).uint32(0) })
      assert.ok(r.kind === 'accepted' && r.stat === 0)
      return r.kind === 'accepted' ? r.body.uint32() : -1
    }
    assert.is(await getport(100003), server.port)
    assert.is(await getport(100005), server.mountPort)
    assert.is(await getport(100099), 0)
    const dump = await c.call(100000, 2, 4)
    let n = 0
    if (dump.kind === 'accepted') while (dump.body.bool()) { dump.body.uint32(); dump.body.uint32(); dump.body.uint32(); dump.body.uint32(); n++ }
    assert.is(n, 4, 'NFS and MOUNT over TCP and UDP')
    const set = await c.call(100000, 2, 1, (w) => { w.uint32(1).uint32(1).uint32(6).uint32(1) })
    assert.ok(set.kind === 'accepted' && set.body.bool() === false)
    await c.close()
  } finally {
    await server?.close()
    await rmrf(dir)
  }
})

Pmap('UDP: one call per datagram, on the same ports (RFC 5531 §3)', async () => {
  const dir = await tmpdir()
  const server = await createNfsServer({ stateDir: dir, exports: [], portmapPort: 0 })
  const sock = createSocket('udp4')
  try {
    const call = new XdrWriter().uint32(99).uint32(0).uint32(2).uint32(100000).uint32(2).uint32(3).uint32(0).uint32(0).uint32(0).uint32(0)
      .uint32(100005).uint32(3).uint32(17).uint32(0).bytes()
    const reply = new Promise<Buffer>((resolve) => sock.once('message', resolve))
    sock.send(call, server.portmapPort!, '127.0.0.1')
    const r = new XdrReader(await reply)
    assert.is(r.uint32(), 99)
    r.uint32(); assert.is(r.uint32(), 0); r.uint32(); r.opaque(); assert.is(r.uint32(), 0)
    assert.is(r.uint32(), server.mountPort, 'GETPORT for MOUNT over UDP')
  } finally {
    sock.close()
    await server.close()
    await rmrf(dir)
  }
})

Pmap('nfs-ls -D lists the exports through the portmapper (in a private network namespace)', async () => {
  const main = fileURLToPath(new URL('./portmap-main.js', import.meta.url))
  let out: string
  try {
    out = (await run('unshare', ['-n', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" "${main}"`], { timeout: 60_000 })).stdout
  } catch (err) {
    const e = err as { stderr?: string }
    if (/unshare|Operation not permitted/.test(String(e.stderr))) { console.log('  (skipped: no network namespaces here)'); return }
    throw err
  }
  const { discover, ls } = JSON.parse(out) as { discover: string, ls: string }
  assert.equal(discover.trim().split('\n').sort(), ['nfs://127.0.0.1/export', 'nfs://127.0.0.1/second'])
  assert.match(ls, /file\.txt/)
})

Pmap.run()
