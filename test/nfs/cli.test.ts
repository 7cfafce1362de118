import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { seededBytes } from '../helpers/bytes.js'
import { runXeno as run, startNfsServe, XENO_BIN } from '../helpers/cli.js'
import { NfsClient } from './nfs-client.js'
import { libnfs, nfsUrl } from './real-client.js'

/** `xeno nfs serve` as a process: real clients, SIGINT, and a crash (kill -9) after stable writes. */
interface Ctx { dir: string, root: string }
const Cli = suite<Ctx>('xeno nfs serve')


async function serve (ctx: Ctx): Promise<{ child: ChildProcess, port: number }> {
  return await startNfsServe(['--store', join(ctx.dir, 'store'), '--layer', ctx.root, '--writable', join(ctx.dir, 'upper'),
    '--state', join(ctx.dir, 'state'), '--listen', '127.0.0.1:0', '--allow', '127.0.0.1'])
}

async function exited (child: ChildProcess): Promise<number | string> {
  return await new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? signal ?? -1)))
}

Cli.before(async (ctx) => {
  ctx.dir = await tmpdir('xeno-nfs-cli-')
  await mkdir(join(ctx.dir, 'tree', 'etc'), { recursive: true })
  await writeFile(join(ctx.dir, 'tree', 'etc', 'motd'), 'welcome\n')
  ctx.root = (JSON.parse(await run(['template', 'import', join(ctx.dir, 'tree'), '--store', join(ctx.dir, 'store'), '--json'])) as { root: string }).root
})
Cli.after(async (ctx) => { await rmrf(ctx.dir) })

Cli('serves the layer stack to libnfs and stops cleanly on SIGINT', async (ctx) => {
  const { child, port } = await serve(ctx)
  const ls = (await libnfs('nfs-ls', ['-R', nfsUrl(port, '/export')])).toString()
  assert.match(ls, /etc\/motd/)
  assert.is((await libnfs('nfs-cat', [nfsUrl(port, '/export/etc/motd')])).toString(), 'welcome\n')
  const done = exited(child)
  child.kill('SIGINT')
  assert.is(await done, 0)
})

Cli('a port out of range or not a number is a usage error, not some other port', async (ctx) => {
  for (const args of [['--listen', '127.0.0.1:99999'], ['--listen', '127.0.0.1:0', '--mount-port', 'abc'], ['--listen', '127.0.0.1:']]) {
    const r = spawnSync(process.execPath, [XENO_BIN, 'nfs', 'serve', '--store', join(ctx.dir, 'store'), '--layer', ctx.root, ...args], { encoding: 'utf8', timeout: 20_000 })
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
    assert.match(r.stderr, /^xeno nfs serve: --(listen|mount-port) takes/, args.join(' '))
    assert.not.match(r.stdout, /listening/)
  }
})

Cli('--idle-poll-us sets the wait for a next call: 0 never polls, the default does; a bad value is a usage error', async (ctx) => {
  for (const value of ['-1', 'soon', '2000000']) {
    const r = spawnSync(process.execPath, [XENO_BIN, 'nfs', 'serve', '--store', join(ctx.dir, 'store'), '--layer', ctx.root, '--listen', '127.0.0.1:0', `--idle-poll-us=${value}`], { encoding: 'utf8', timeout: 20_000 })
    assert.is(r.status, 2, `${value}: ${r.stdout}${r.stderr}`)
    assert.match(r.stderr, /^xeno nfs serve: --idle-poll-us takes/)
  }
  for (const extra of [['--idle-poll-us', '0'], []]) {
    let polls = -1
    let lines = 0
    const { child, port } = await startNfsServe(['--store', join(ctx.dir, 'store'), '--layer', ctx.root, '--state', join(ctx.dir, 'state-poll'),
      '--listen', '127.0.0.1:0', '--stats', '0.1', ...extra], {
      onLine: (line) => { if (line.startsWith('stats ')) { lines++; polls = (JSON.parse(line.slice(6)) as { idlePoll: { polls: number } }).idlePoll.polls } }
    })
    try {
      assert.is((await libnfs('nfs-cat', [nfsUrl(port, '/export/etc/motd')])).toString(), 'welcome\n')
      // A stats line written wholly after the calls.
      const after = lines + 2
      for (let i = 0; i < 100 && lines < after; i++) await new Promise((resolve) => setTimeout(resolve, 50))
      if (extra.length > 0) assert.is(polls, 0); else assert.ok(polls > 0, `polls ${polls}`)
    } finally {
      const done = exited(child)
      child.kill('SIGINT')
      await done
    }
  }
})

Cli('FILE_SYNC writes survive kill -9; handles stay valid; the write verifier changes', async (ctx) => {
  const first = await serve(ctx)
  const c = await NfsClient.connect(first.port)
  const root = (await c.mount('/export')).fh!
  const f = await c.create(root, 'journal')
  const data = seededBytes(5, 300_000)
  const w = await c.write(f.fh!, 0n, data, 2)
  assert.is(w.status, 0); assert.is(w.committed, 2)
  const killed = exited(first.child)
  first.child.kill('SIGKILL')
  await killed
  await c.close()
  const second = await serve(ctx)
  const d = await NfsClient.connect(second.port)
  const r = await d.read(f.fh!, 0n, 400_000)
  assert.is(r.status, 0)
  assert.is(Buffer.compare(r.data!, data), 0)
  const w2 = await d.write(f.fh!, 0n, data.subarray(0, 10), 0)
  assert.ok(Buffer.compare(w2.verf!, w.verf!) !== 0, 'a restart changes the verifier')
  await d.close()
  const done = exited(second.child)
  second.child.kill('SIGINT')
  await done
})

Cli.run()
