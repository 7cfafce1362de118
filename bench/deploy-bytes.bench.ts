/**
 * bench/deploy-bytes (issue 4, "Must show"): the bytes on the wire and the HTTP requests that
 * bring a machine holding the template T1 to (a) T1 plus apache2 and (b) the upgraded
 * template, side by side in the same run: `xeno pull --base`, `casync extract --seed` over
 * HTTP, `rsync -z`, `ostree pull` over HTTP, and the floor (zstd -3 of the file contents that
 * are new). Every server runs on loopback; wire bytes are counted outside the tools (a counting
 * proxy or server; rsync's own --stats). Set-up (imports, pushes, peer stores) is not counted.
 *
 *   npx tsc -p . && node dist/bench/deploy-bytes.bench.js [--base DIR] [--targets DIR,DIR]
 *       [--only xeno,casync,rsync,ostree] [--wan RTT_MS:BYTES_PER_S] [--json FILE]
 *
 * Defaults: --base /work/data/t1, --targets /work/data/t1-apache,/work/data/t1-upgraded
 * (bench/data/make-datasets.sh). --wan 85:108000 runs every transfer through the emulated link
 * of the paper (slow: minutes per tool) and compares each time with bytes/bandwidth + 3 RTT.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { casyncDeploy, type DeployOptions, type DeployRun, ostreeDeploy, rsyncDeploy, zstdFloor } from './lib/deploy-peers.js'
import { fmtCount, fmtMB, fmtRatio, fmtSeconds, renderTable } from './lib/table.js'
import type { WanLinkOptions } from './lib/wan-proxy.js'
import { xenoDeploy } from './lib/xeno-deploy.js'
import { settleBenchEnvironment } from './lib/environment.js'
import { parseBenchArgs, usageError } from './lib/args.js'

const TOOLS: Record<string, (o: DeployOptions) => Promise<DeployRun>> = {
  xeno: xenoDeploy,
  casync: casyncDeploy,
  rsync: (o) => rsyncDeploy(o, true),
  ostree: ostreeDeploy
}

interface Row { run: DeployRun, modelS?: number }

const USAGE = `usage: node dist/bench/deploy-bytes.bench.js [--base DIR] [--targets DIR,DIR] [--only xeno,casync,rsync,ostree] [--wan RTT_MS:BYTES_PER_S] [--json FILE]
Bytes on the wire and requests that bring a machine holding BASE to each target, per tool, on loopback.
  --base DIR        the template the machine holds (default /work/data/t1)
  --targets DIRS    comma-separated (default /work/data/t1-apache,/work/data/t1-upgraded)
  --only TOOLS      a subset of xeno,casync,rsync,ostree
  --wan RTT:BPS     every transfer through an emulated link (e.g. 85:108000; slow)
  --json FILE       also write the measurements to FILE`

function parseLink (text: string | undefined): WanLinkOptions | undefined {
  if (text === undefined) return undefined
  const [rtt, rate] = text.split(':').map(Number)
  if (!(rtt >= 0 && rate > 0)) usageError(`--wan takes RTT_MS:BYTES_PER_S, e.g. 85:108000, not ${text}`)
  return { rttMs: rtt, bytesPerSecond: rate }
}

async function one (name: string, opts: Omit<DeployOptions, 'work'>): Promise<DeployRun | undefined> {
  const work = await mkdtemp(join(tmpdir(), `xeno-bench-deploy-${name}-`))
  try {
    return await TOOLS[name]({ ...opts, work })
  } catch (err) {
    console.error(`deploy-bytes: ${name} failed: ${(err as Error).message}`)
    return undefined
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

function print (rows: Row[], floorBytes: number, link: WanLinkOptions | undefined): void {
  const xeno = rows.find((r) => r.run.tool.startsWith('xeno'))?.run
  console.log(renderTable<Row>([
    { header: 'tool', cell: (r) => r.run.tool, align: 'left' },
    { header: 'wire bytes', cell: (r) => fmtMB(r.run.wireBytes) },
    { header: 'requests', cell: (r) => r.run.requests === undefined ? '(1 session)' : fmtCount(r.run.requests) },
    { header: 'wall', cell: (r) => fmtSeconds(r.run.measurement.wallS) },
    ...(link === undefined ? [] : [{ header: 'bytes/bw + 3 RTT', cell: (r: Row) => fmtSeconds(r.modelS) },
      { header: 'wall / model', cell: (r: Row) => fmtRatio(r.run.measurement.wallS, r.modelS) }]),
    { header: 'bytes / floor', cell: (r) => fmtRatio(r.run.wireBytes, floorBytes) },
    { header: 'bytes / xeno', cell: (r) => fmtRatio(r.run.wireBytes, xeno?.wireBytes) }
  ], rows))
  for (const r of rows) console.log(`  ${r.run.tool}: ${r.run.command}${r.run.note !== undefined ? `  (${r.run.note})` : ''}`)
}

async function main (): Promise<void> {
  const { values } = parseBenchArgs(USAGE, {
    base: { type: 'string' }, targets: { type: 'string' }, only: { type: 'string' },
    wan: { type: 'string' }, json: { type: 'string' }
  }, 0)
  const base = resolve(values.base ?? '/work/data/t1')
  const targets = (values.targets ?? '/work/data/t1-apache,/work/data/t1-upgraded').split(',').map((t) => resolve(t))
  const wanted = values.only?.split(',') ?? Object.keys(TOOLS)
  for (const w of wanted) if (!(w in TOOLS)) usageError(`unknown tool ${w}; known: ${Object.keys(TOOLS).join(', ')}`)
  const link = parseLink(values.wan)
  const environment = settleBenchEnvironment()
  if (environment !== undefined) console.log(environment)
  console.log(`base ${base}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}` +
    (link === undefined ? '; loopback, no emulated link' : `; emulated link ${link.rttMs} ms RTT, ${link.bytesPerSecond} B/s`))

  const results = []
  for (const target of targets) {
    console.error(`deploy-bytes: ${basename(target)}: floor ...`)
    const floor = await zstdFloor(base, target, 3)
    const rows: Row[] = []
    for (const name of wanted) {
      console.error(`deploy-bytes: ${basename(target)}: ${name} ...`)
      const run = await one(name, { base, target, link })
      if (run === undefined) continue
      const modelS = link === undefined ? undefined : run.wireBytes / link.bytesPerSecond + 3 * link.rttMs / 1000
      rows.push({ run, modelS })
    }
    console.log('')
    console.log(`${basename(base)} -> ${basename(target)}: floor = zstd -3 of the ${fmtCount(floor.newFiles)} files whose content is new ` +
      `(${fmtMB(floor.newBytes)}) = ${fmtMB(floor.zstdBytes)}`)
    print(rows, floor.zstdBytes, link)
    results.push({ target, floor, rows })
  }
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  if (values.json !== undefined) {
    await writeFile(values.json, JSON.stringify({ base, link, results, date: new Date().toISOString() }, null, 2) + '\n')
  }
}

// Interrupted (Ctrl-C, timeout): exit through 'exit' handlers, which stop child servers.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))
await main()
