import { createHash } from 'node:crypto'
import { createServer as createNetServer } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RpcServer } from '../../src/nfs/server.js'
import type { TcpTransport } from '../../src/nfs/tcp.js'
import { accept_stat, auth_stat, reject_stat } from '../../src/nfs/rpc.js'
import { XdrWriter } from '../../src/nfs/xdr.js'
import { recordMark } from '../../src/nfs/record.js'
import { RpcClient } from './client.js'

const PROG = 400_123

/** A reply big enough that the kernel cannot take it at once while the client does not read. */
const BIG_REPLY_BYTES = 24 * 1024 * 1024
const bigReply = new Uint8Array(BIG_REPLY_BYTES).map((_, i) => (i * 7919) >>> 5)

interface Ctx { server: RpcServer, port: number, client: RpcClient }

/** The same behaviour over both TCP transports (libuv handles and node:net). */
function rpcSuite (transport: TcpTransport): void {
  const Rpc = suite<Ctx>(`ONC RPC server (RFC 5531), ${transport} transport`)
  const gates = new Map<number, () => void>()
  let arrived = 0

  Rpc.before.each(async (ctx) => {
    ctx.server = new RpcServer({ maxRecordSize: 4096, transport })
    ctx.server.add({ prog: PROG, vers: 2, procs: { 0: () => () => {} } })
    ctx.server.add({
      prog: PROG,
      vers: 3,
      procs: {
        0: () => () => {},
        /** echo of a uint once the test opens its gate: replies complete in the order the test picks. */
        1: async (args) => {
          const v = args.uint32()
          args.uint32()
          arrived++
          await new Promise<void>((resolve) => { gates.set(v, resolve) })
          return (out) => { out.uint32(v) }
        },
        2: (_args, ctx) => (out) => { out.uint32(ctx.cred.uid ?? 99999).string(ctx.remoteAddress) },
        3: () => { throw new Error('boom') },
        4: () => (out) => { out.opaqueRef(bigReply) }
      }
    })
    ctx.port = (await ctx.server.listen(0)).port
    ctx.client = await RpcClient.connect(ctx.port)
  })
  Rpc.after.each(async (ctx) => { await ctx.client.close(); await ctx.server.close() })

  Rpc('NULL succeeds', async ({ client }) => {
    const r = await client.call(PROG, 3, 0)
    assert.is(r.kind, 'accepted')
    assert.is(r.kind === 'accepted' && r.stat, accept_stat.SUCCESS)
  })

  Rpc('unknown program, version and procedure get PROG_UNAVAIL, PROG_MISMATCH (2..3), PROC_UNAVAIL', async ({ client }) => {
    const a = await client.call(PROG + 1, 3, 0)
    assert.ok(a.kind === 'accepted' && a.stat === accept_stat.PROG_UNAVAIL)
    const b = await client.call(PROG, 9, 0)
    assert.ok(b.kind === 'accepted' && b.stat === accept_stat.PROG_MISMATCH)
    if (b.kind === 'accepted') { assert.is(b.body.uint32(), 2); assert.is(b.body.uint32(), 3) }
    const c = await client.call(PROG, 3, 77)
    assert.ok(c.kind === 'accepted' && c.stat === accept_stat.PROC_UNAVAIL)
  })

  Rpc('truncated arguments get GARBAGE_ARGS; a failing procedure gets SYSTEM_ERR', async ({ client, server }) => {
    const a = await client.call(PROG, 3, 1, (w) => { w.uint32(5) }) // the second argument is missing
    assert.ok(a.kind === 'accepted' && a.stat === accept_stat.GARBAGE_ARGS)
    const b = await client.call(PROG, 3, 3)
    assert.ok(b.kind === 'accepted' && b.stat === accept_stat.SYSTEM_ERR)
    assert.is(server.stats.systemErrors, 1)
  })

  Rpc('RPC version 3 gets MSG_DENIED RPC_MISMATCH 2..2', async ({ client }) => {
    const msg = new XdrWriter().uint32(77).uint32(0).uint32(3).uint32(PROG).uint32(3).uint32(0).uint32(0).uint32(0).uint32(0).uint32(0).bytes()
    const r = await client.send(77, msg)
    assert.ok(r.kind === 'denied' && r.rejectStat === reject_stat.RPC_MISMATCH)
    if (r.kind === 'denied') { assert.is(r.body.uint32(), 2); assert.is(r.body.uint32(), 2) }
  })

  Rpc('unknown flavors and malformed AUTH_SYS get AUTH_ERROR AUTH_BADCRED', async ({ client }) => {
    const gss = new XdrWriter().uint32(78).uint32(0).uint32(2).uint32(PROG).uint32(3).uint32(0).uint32(6).uint32(0).uint32(0).uint32(0).bytes()
    const r = await client.send(78, gss)
    assert.ok(r.kind === 'denied' && r.rejectStat === reject_stat.AUTH_ERROR)
    if (r.kind === 'denied') assert.is(r.body.uint32(), auth_stat.AUTH_BADCRED)
    const bad = new XdrWriter().uint32(79).uint32(0).uint32(2).uint32(PROG).uint32(3).uint32(0).uint32(1).opaque(Uint8Array.of(0, 0, 0, 1)).uint32(0).uint32(0).bytes()
    const s = await client.send(79, bad)
    assert.ok(s.kind === 'denied' && s.rejectStat === reject_stat.AUTH_ERROR)
  })

  Rpc('AUTH_SYS credentials and the peer address reach the procedure', async ({ client }) => {
    const r = await client.call(PROG, 3, 2, () => {}, { uid: 1234, gid: 5, gids: [1, 2] })
    assert.ok(r.kind === 'accepted' && r.stat === 0)
    if (r.kind === 'accepted') { assert.is(r.body.uint32(), 1234); assert.is(r.body.string(), '127.0.0.1') }
  })

  Rpc('many calls are in flight at once and replies come back as they complete', async ({ client }) => {
    arrived = 0
    const order: number[] = []
    const calls = [0, 1, 2, 3].map(async (i) => {
      const r = await client.call(PROG, 3, 1, (w) => { w.uint32(i).uint32(0) })
      assert.ok(r.kind === 'accepted' && r.stat === 0)
      if (r.kind === 'accepted') order.push(r.body.uint32())
    })
    while (arrived < 4) await new Promise((resolve) => setImmediate(resolve))
    for (const i of [3, 2, 1, 0]) {
      gates.get(i)!()
      while (!order.includes(i)) await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(calls)
    assert.equal(order, [3, 2, 1, 0])
  })

  Rpc('an oversized record is answered GARBAGE_ARGS and the connection keeps working', async ({ client, server }) => {
    const big = new XdrWriter().uint32(4242).uint32(0).uint32(2).uint32(PROG).uint32(3).uint32(0).uint32(0).uint32(0).uint32(0).uint32(0)
    big.opaqueFixed(new Uint8Array(10_000))
    const bytes = big.bytes()
    const reply = client.expect(4242)
    client.writeRaw(Buffer.concat([recordMark(bytes.length), bytes]))
    const r = await reply
    assert.ok(r.kind === 'accepted' && r.stat === accept_stat.GARBAGE_ARGS)
    assert.is(server.stats.oversized, 1)
    const n = await client.call(PROG, 3, 0)
    assert.ok(n.kind === 'accepted' && n.stat === 0)
  })

  Rpc('replies (not calls) and garbage headers are dropped without closing the connection', async ({ client }) => {
    client.writeRaw(Buffer.concat([recordMark(8), Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 1)]))
    client.writeRaw(Buffer.concat([recordMark(2), Uint8Array.of(1, 2)]))
    const n = await client.call(PROG, 3, 0)
    assert.ok(n.kind === 'accepted' && n.stat === 0)
  })

  Rpc('a client that closes its side after its calls still gets every reply, then the server closes', async ({ client }) => {
    arrived = 0
    const r = client.call(PROG, 3, 1, (w) => { w.uint32(7).uint32(0) })
    while (arrived < 1) await new Promise((resolve) => setImmediate(resolve))
    client.endWrites()
    await new Promise((resolve) => setTimeout(resolve, 20))
    gates.get(7)!()
    const reply = await r
    assert.ok(reply.kind === 'accepted' && reply.stat === 0)
    if (reply.kind === 'accepted') assert.is(reply.body.uint32(), 7)
    for (let i = 0; i < 100 && !client.closed; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.ok(client.closed)
  })

  Rpc('a reply larger than the socket buffers arrives whole while the client reads slowly', async ({ client, server }) => {
    client.pauseReading()
    const r = client.call(PROG, 3, 4)
    await new Promise((resolve) => setTimeout(resolve, 50))
    client.resumeReading()
    const reply = await r
    assert.ok(reply.kind === 'accepted' && reply.stat === 0)
    if (reply.kind === 'accepted') {
      const got = reply.body.opaque()
      assert.is(got.length, BIG_REPLY_BYTES)
      assert.is(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(bigReply).digest('hex'))
    }
    const n = await client.call(PROG, 3, 0)
    assert.ok(n.kind === 'accepted' && n.stat === 0)
    assert.is(server.stats.systemErrors, 0)
  })

  Rpc('a client reset (SO_LINGER 0, as libnfs closes) leaves the server serving others', async ({ client, port, server }) => {
    const first = await RpcClient.connect(port)
    assert.ok((await first.call(PROG, 3, 0)).kind === 'accepted')
    first.reset()
    await new Promise((resolve) => setTimeout(resolve, 20))
    const n = await client.call(PROG, 3, 0)
    assert.ok(n.kind === 'accepted' && n.stat === 0)
    assert.is(server.stats.connections, 2)
  })

  Rpc('server.close() closes connections with replies still queued', async ({ client, server }) => {
    client.pauseReading()
    const r = client.call(PROG, 3, 4)
    await new Promise((resolve) => setTimeout(resolve, 50))
    await server.close()
    client.resumeReading()
    const reply = await r // the close is reported as a reply of kind 'denied', xid -1, by the test client
    assert.is(reply.xid, -1)
  })

  Rpc('a port in use is refused with EADDRINUSE', async () => {
    const taken = createNetServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    const server = new RpcServer({ transport })
    try {
      await server.listen(port)
      assert.unreachable('listen should fail')
    } catch (err) {
      assert.is((err as NodeJS.ErrnoException).code, 'EADDRINUSE')
    } finally {
      await server.close()
      await new Promise((resolve) => taken.close(resolve))
    }
  })

  Rpc('idle connections are closed after the idle timeout', async () => {
    const server = new RpcServer({ idleTimeoutMs: 100, transport })
    server.add({ prog: PROG, vers: 3, procs: { 0: () => () => {} } })
    const { port } = await server.listen(0)
    const c = await RpcClient.connect(port)
    const r = await c.call(PROG, 3, 0)
    assert.ok(r.kind === 'accepted')
    for (let i = 0; i < 50 && !c.closed; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.ok(c.closed)
    await server.close()
  })

  Rpc('the server waits up for the next call after answering one, and not at all with idlePollUs 0', async () => {
    for (const idlePollUs of [undefined, 0]) {
      const server = new RpcServer({ transport, idlePollUs })
      server.add({ prog: PROG, vers: 3, procs: { 2: (args) => { const v = args.uint32(); return (out) => { out.uint32(v) } } } })
      const { port } = await server.listen(0)
      try {
        // A one-shot client (a few calls on a connection of its own, as nfs-cat makes them).
        const once = await RpcClient.connect(port)
        for (let i = 0; i < 4; i++) assert.ok((await once.call(PROG, 3, 2, (w) => { w.uint32(i) })).kind === 'accepted')
        await once.close()
        if (idlePollUs === 0) assert.is(server.idlePoll.stats.polls, 0); else assert.ok(server.idlePoll.stats.polls > 0)
        // One call at a time on one connection, as nfs-ls makes them: answered in order.
        const steady = await RpcClient.connect(port)
        for (let i = 0; i < 40; i++) {
          const r = await steady.call(PROG, 3, 2, (w) => { w.uint32(i) })
          assert.ok(r.kind === 'accepted' && r.stat === accept_stat.SUCCESS && r.body.uint32() === i)
        }
        await steady.close()
        if (idlePollUs === 0) assert.is(server.idlePoll.stats.polls, 0); else assert.ok(server.idlePoll.stats.polls > 0)
      } finally {
        await server.close()
      }
    }
  })

  Rpc.run()
}

rpcSuite('uv')
rpcSuite('net')
