/**
 * bench/fleet: several like servers, each holding the template T1, take the same update from
 * one source, one after another, side by side with rsync: `xeno pull TARGET --base T1` from one
 * `xeno store serve`, and `rsync -aHAX --delete --no-whole-file -z` from one rsync daemon onto
 * a copy of T1 per server. Printed per server: the client's wall and CPU, and the CPU the
 * source spent on it (the XenoStore's, read from /proc before and after; the rsync daemon's
 * children, reaped per session). A XenoStore keeps the answers and deltas it computed, so from
 * the second server on it mostly resends bytes; rsync's sender works the same for every one.
 *
 *   npx tsc -p . && node dist/bench/fleet.bench.js [--base DIR] [--target DIR] [--servers N]
 *
 * Defaults: --base /work/data/t1, --target /work/data/t1-upgraded, --servers 3. Loopback only.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { freePort, waitForPort } from './lib/deploy-peers.js'
import { cpuSeconds, measure, type Measurement } from './lib/measure.js'
import { fmtSeconds, renderTable } from './lib/table.js'
import { startXenoStore, XENO_BIN, xenoJson } from './lib/xeno-deploy.js'
import { settleBenchEnvironment } from './lib/environment.js'
import { parseBenchArgs, usageError } from './lib/args.js'

const run = promisify(execFile)
const TICKS_PER_SECOND = 100
const USAGE = `usage: node dist/bench/fleet.bench.js [--base DIR] [--target DIR] [--servers N]
Several servers holding BASE take the same update TARGET one after another: xeno pull from one
xeno store serve against rsync from one rsync daemon (loopback only).
  --base DIR     default /work/data/t1
  --target DIR   default /work/data/t1-upgraded
  --servers N    default 3`

/** CPU seconds of process `pid` so far: its own (utime + stime) and, with `children`, its reaped children's. */
async function processCpu (pid: number, children = false): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ')
  const own = Number(f[11]) + Number(f[12])
  return (own + (children ? Number(f[13]) + Number(f[14]) : 0)) / TICKS_PER_SECOND
}

interface Row { server: number, tool: string, client: Measurement, sourceCpuS: number }

async function main (): Promise<void> {
  const { values } = parseBenchArgs(USAGE, { base: { type: 'string' }, target: { type: 'string' }, servers: { type: 'string' } }, 0)
  const base = resolve(values.base ?? '/work/data/t1')
  const target = resolve(values.target ?? '/work/data/t1-upgraded')
  const servers = Number(values.servers ?? 3)
  if (!(Number.isInteger(servers) && servers >= 1)) usageError('--servers takes a whole number >= 1')
  const work = await mkdtemp(join(tmpdir(), 'xeno-bench-fleet-'))
  const environment = settleBenchEnvironment()
  if (environment !== undefined) console.log(environment)
  console.log(`fleet: ${servers} servers holding ${base} take ${target}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  const rows: Row[] = []
  try {
    // xeno: a workstation pushes both trees to one XenoStore; each server's store holds the base.
    const ws = join(work, 'ws')
    const baseRoot = (await xenoJson<{ root: string }>(['template', 'import', base, '--store', ws])).root
    const targetRoot = (await xenoJson<{ root: string }>(['template', 'import', target, '--store', ws])).root
    await xenoJson(['template', 'import', base, '--store', join(work, 'xeno-server-0')])
    for (let i = 1; i < servers; i++) await run('cp', ['-a', join(work, 'xeno-server-0'), join(work, `xeno-server-${i}`)])
    const store = await startXenoStore(join(work, 'store'))
    try {
      await xenoJson(['push', baseRoot, '--to', store.url, '--store', ws])
      await xenoJson(['push', targetRoot, '--to', store.url, '--store', ws])
      for (let i = 0; i < servers; i++) {
        const before = await processCpu(store.pid)
        const client = await measure([process.execPath, XENO_BIN, 'pull', targetRoot, '--from', store.url, '--base', baseRoot, '--store', join(work, `xeno-server-${i}`), '--json'])
        rows.push({ server: i + 1, tool: 'xeno pull', client, sourceCpuS: await processCpu(store.pid) - before })
      }
    } finally { await store.stop() }
    // rsync: one daemon serving the target; each server a copy of the base.
    for (let i = 0; i < servers; i++) await run('cp', ['-a', base, join(work, `rsync-server-${i}`)])
    const port = await freePort()
    const conf = join(work, 'rsyncd.conf')
    await writeFile(conf, `use chroot = no\nnumeric ids = yes\n[target]\npath = ${target}\nread only = yes\nuid = root\ngid = root\n`)
    const daemon = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`, '--address=127.0.0.1', `--port=${port}`], { stdio: 'ignore' })
    try {
      await waitForPort(port)
      for (let i = 0; i < servers; i++) {
        const before = await processCpu(daemon.pid!, true)
        const client = await measure(['rsync', '-aHAX', '--numeric-ids', '--delete', '--no-whole-file', '-z', `rsync://127.0.0.1:${port}/target/`, `${join(work, `rsync-server-${i}`)}/`])
        await new Promise((resolve) => setTimeout(resolve, 200)) // the daemon reaps its session's process
        rows.push({ server: i + 1, tool: 'rsync -z (daemon)', client, sourceCpuS: await processCpu(daemon.pid!, true) - before })
      }
    } finally { daemon.kill() }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  console.log(renderTable<Row>([
    { header: 'tool', cell: (r) => r.tool, align: 'left' },
    { header: 'server', cell: (r) => String(r.server) },
    { header: 'client wall', cell: (r) => fmtSeconds(r.client.wallS) },
    { header: 'client CPU', cell: (r) => fmtSeconds(cpuSeconds(r.client)) },
    { header: 'source CPU', cell: (r) => fmtSeconds(r.sourceCpuS) }
  ], rows))
  for (const tool of new Set(rows.map((r) => r.tool))) {
    const mine = rows.filter((r) => r.tool === tool)
    const sum = (f: (r: Row) => number): number => mine.reduce((n, r) => n + f(r), 0)
    console.log(`${tool}: ${servers} servers, source CPU ${fmtSeconds(sum((r) => r.sourceCpuS))} in all, client walls ${fmtSeconds(sum((r) => r.client.wallS))} in all`)
  }
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
}

await main()
