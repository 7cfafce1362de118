/**
 * bench/ingest (issue 2, "Must show"): import one real tree with xeno and, in the same run and
 * on the same warm page cache, with `casync make`, `borg create`, `restic backup` and
 * `ostree commit`, each into a fresh store in a temporary directory. Prints wall time, CPU time
 * (user + sys of the command and its children), peak RSS, store bytes (sum of file sizes) and
 * the ratios against xeno, then the raw limits of this machine (read, BLAKE3, chunker, zstd
 * alone) over the same tree's bytes.
 *
 *   npx tsc -p . && node dist/bench/ingest.bench.js [TREE] [--only xeno,casync,...] [--repeat N] [--then T2,...] [--json FILE]
 *
 * --repeat N runs N interleaved rounds and reports each tool's fastest (default 1).
 * --then T2[,T3...] then imports T2, T3... into the same store, one after the other, and shows
 * what each stored again (e.g. --then /work/data/t1,/work/data/t1-upgraded: a re-import
 * that should store nothing, then an upgraded copy that should store only changed chunks).
 * TREE defaults to $XENO_BENCH_TREE or /work/data/t1 (bench/data/make-datasets.sh makes it).
 * Run it as root: the peers must read every file of a root file-system.
 * NODE_EXTRA_CA_CERTS is unset for every tool (bench/lib/environment.ts says why).
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cpuSeconds, measure, measureInProcess } from './lib/measure.js'
import { borgCreate, casyncMake, type IngestRun, type Ingester, ostreeCommit, resticBackup, toolVersion } from './lib/peers.js'
import { measureRawLimits, type RawLimit } from './lib/raw-limits.js'
import { treeSize } from './lib/size.js'
import { fmtCount, fmtMB, fmtMiB, fmtRatio, fmtSeconds, renderTable } from './lib/table.js'
import { listFiles, readFilesSync, sampleTreeBytes, warmPageCache } from './lib/tree-data.js'
import { settleBenchEnvironment } from './lib/environment.js'
import { parseBenchArgs, usageError } from './lib/args.js'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const XENO = join(REPO, 'bin', 'xeno')
const SAMPLE_LIMIT_BYTES = 256 * 1024 * 1024
const USAGE = `usage: node dist/bench/ingest.bench.js [TREE] [--only xeno,casync,borg,restic,ostree] [--repeat N] [--then T2,...] [--json FILE]
Imports TREE (default $XENO_BENCH_TREE or /work/data/t1) with xeno and each peer into fresh stores,
the same run and warm page cache; prints wall, CPU, peak RSS and store bytes, the ratios against
xeno, and the raw limits (read, BLAKE3, chunker, zstd). Run as root.
  --only TOOLS   a comma-separated subset of xeno,casync,borg,restic,ostree
  --repeat N     N interleaved rounds, each tool's fastest shown (default 1)
  --then T2,...  then import T2, T3... into the same stores and show what each stored again
  --json FILE    also write every measurement to FILE`

/** True once `xeno template import` exists (engineer B's importer). */
function xenoImportAvailable (): boolean {
  return spawnSync(process.execPath, [XENO, 'template', 'import', '--help'], { stdio: 'ignore' }).status === 0
}

/** `xeno template import TREE --store DIR --json` into a fresh store. */
const xenoImport: Ingester = async (tree, work) => {
  const store = join(work, 'store')
  const argv = [process.execPath, XENO, 'template', 'import', tree, '--store', store, '--json']
  const measurement = await measure(argv)
  const { root } = JSON.parse(measurement.stdout) as { root: string }
  const size = await treeSize(store)
  return {
    tool: 'xeno template import',
    command: `node bin/xeno template import ${tree} --store DIR --json`,
    measurement,
    storeBytes: size.bytes,
    storeFiles: size.files,
    note: `root ${root}`
  }
}

const TOOLS: Record<string, { ingest: Ingester, binary: string, debian: string }> = {
  xeno: { ingest: xenoImport, binary: 'node', debian: 'nodejs' },
  casync: { ingest: casyncMake, binary: 'casync', debian: 'casync' },
  borg: { ingest: borgCreate, binary: 'borg', debian: 'borgbackup' },
  restic: { ingest: resticBackup, binary: 'restic', debian: 'restic' },
  ostree: { ingest: ostreeCommit, binary: 'ostree', debian: 'ostree' }
}

function onPath (binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0
}

/** A tool's first import of the tree, then its imports of `then` into the same store, in order. */
interface Session { readonly first: IngestRun, readonly then: IngestRun[] }

async function runOne (name: string, tree: string, then: readonly string[]): Promise<Session | undefined> {
  const work = await mkdtemp(join(tmpdir(), `xeno-bench-ingest-${name}-`))
  try {
    const first = await TOOLS[name].ingest(tree, work)
    const rest: IngestRun[] = []
    for (const next of then) rest.push(await TOOLS[name].ingest(next, work))
    return { first, then: rest }
  } catch (err) {
    console.error(`ingest: ${name} failed: ${(err as Error).message}`)
    return undefined
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

interface FollowUp { tool: string, tree: string, run: IngestRun, addedBytes: number }

/** The imports after the first, into the same store: what each stored again. */
function printFollowUps (rows: FollowUp[]): void {
  console.log(renderTable<FollowUp>([
    { header: 'tool', cell: (r) => r.tool, align: 'left' },
    { header: 'then imported', cell: (r) => r.tree, align: 'left' },
    { header: 'wall', cell: (r) => fmtSeconds(r.run.measurement.wallS) },
    { header: 'CPU', cell: (r) => fmtSeconds(cpuSeconds(r.run.measurement)) },
    { header: 'peak RSS', cell: (r) => fmtMiB(r.run.measurement.maxRssBytes) },
    { header: 'store grew by', cell: (r) => Math.abs(r.addedBytes) < 1e6 ? `${(r.addedBytes / 1e3).toFixed(1)} kB` : fmtMB(r.addedBytes) },
    { header: 'store after', cell: (r) => fmtMB(r.run.storeBytes) }
  ], rows))
}

function printRuns (runs: IngestRun[], treeBytes: number): void {
  const ref = runs.find((r) => r.tool.startsWith('xeno')) ?? runs[0]
  const refName = ref.tool.split(' ')[0]
  console.log(renderTable<IngestRun>([
    { header: 'tool', cell: (r) => r.tool, align: 'left' },
    { header: 'wall', cell: (r) => fmtSeconds(r.measurement.wallS) },
    { header: 'CPU (user+sys)', cell: (r) => fmtSeconds(cpuSeconds(r.measurement)) },
    { header: 'cores used', cell: (r) => (cpuSeconds(r.measurement) / r.measurement.wallS).toFixed(2) },
    { header: 'peak RSS', cell: (r) => fmtMiB(r.measurement.maxRssBytes) },
    { header: 'store', cell: (r) => fmtMB(r.storeBytes) },
    { header: 'store/tree', cell: (r) => `${(100 * r.storeBytes / treeBytes).toFixed(1)}%` },
    { header: 'store files', cell: (r) => fmtCount(r.storeFiles) },
    { header: `wall / ${refName}`, cell: (r) => fmtRatio(r.measurement.wallS, ref.measurement.wallS) },
    { header: `CPU / ${refName}`, cell: (r) => fmtRatio(cpuSeconds(r.measurement), cpuSeconds(ref.measurement)) },
    { header: `store / ${refName}`, cell: (r) => fmtRatio(r.storeBytes, ref.storeBytes) }
  ], runs))
  for (const r of runs) console.log(`  ${r.tool}: ${r.command}${r.note !== undefined ? `  (${r.note})` : ''}`)
}

function printLimits (limits: RawLimit[], treeBytes: number): void {
  console.log(renderTable<RawLimit>([
    { header: 'stage alone, one core', cell: (l) => l.stage, align: 'left' },
    { header: 'bytes', cell: (l) => fmtMB(l.bytes) },
    { header: 'wall', cell: (l) => fmtSeconds(l.seconds) },
    { header: 'CPU', cell: (l) => fmtSeconds(l.cpuSeconds) },
    { header: 'MB/s per core (bytes/CPU)', cell: (l) => (l.bytesPerSecond / 1e6).toFixed(0) },
    { header: 'whole tree, 1 core', cell: (l) => fmtSeconds(treeBytes / l.bytesPerSecond) },
    { header: 'whole tree, 2 cores', cell: (l) => fmtSeconds(treeBytes / l.bytesPerSecond / 2) }
  ], limits))
  // The threads' path: BLAKE3, the C cuts and zstd of frames as the importer runs it (the JS
  // chunker and zstd's own level-2 parameters, which transfers use, are listed for comparison only).
  const serial = limits.filter((l) => !l.stage.startsWith('read') && !l.stage.includes(', JS') && !l.stage.startsWith('zstd level') && !l.stage.startsWith('unzstd')).reduce((s, l) => s + treeBytes / l.bytesPerSecond, 0)
  console.log(`  hash + chunk (C) + compress of every byte in series: ${fmtSeconds(serial)} on one core, ${fmtSeconds(serial / 2)} on two` +
    ' (an upper bound for the CPU part: zstd runs on new chunks only)')
  for (const l of limits) {
    if (l.pieces !== undefined) console.log(`  ${l.stage.split(' (')[0]}: ${(1e3 * l.cpuSeconds / l.pieces).toFixed(2)} ms of CPU per frame on average (${fmtCount(l.pieces)} frames)`)
  }
}

async function main (): Promise<void> {
  const { values, positionals } = parseBenchArgs(USAGE, { only: { type: 'string' }, json: { type: 'string' }, repeat: { type: 'string' }, then: { type: 'string' } }, 1)
  const tree = resolve(positionals[0] ?? process.env.XENO_BENCH_TREE ?? '/work/data/t1')
  const wanted = values.only?.split(',') ?? Object.keys(TOOLS)
  for (const w of wanted) if (!(w in TOOLS)) usageError(`unknown tool ${w}; known: ${Object.keys(TOOLS).join(', ')}`)

  const environment = settleBenchEnvironment()
  if (environment !== undefined) console.log(environment)
  const size = await treeSize(tree)
  console.log(`tree ${tree}: ${fmtMB(size.bytes)} in ${fmtCount(size.files)} files, ${fmtCount(size.entries)} entries`)
  const then = values.then === undefined ? [] : values.then.split(',').map((t) => resolve(t))
  for (const t of [tree, ...then]) await warmPageCache(t)
  const paths = (await listFiles(tree)).map((f) => f.path)
  const read = await measureInProcess(() => readFilesSync(paths))
  console.log(`page cache warm (a second read of every file took ${fmtSeconds(read.wallS)})`)

  const versions = await Promise.all(['casync', 'borg', 'restic', 'ostree'].map(toolVersion))
  console.log(`peers: ${versions.join('; ')}; node ${process.version}`)
  console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (shared: other work inflates wall times)`)

  const runnable = wanted.filter((name) => {
    if (name === 'xeno' && !xenoImportAvailable()) {
      console.error('ingest: `xeno template import` not available; skipping xeno (ratios are against the first peer)')
      return false
    }
    if (!onPath(TOOLS[name].binary)) {
      console.error(`ingest: ${TOOLS[name].binary} not found; skipping ${name} (apt-get install -y ${TOOLS[name].debian})`)
      return false
    }
    return true
  })
  // Rounds interleave the tools, so a burst of load from elsewhere hits them alike; each tool's
  // fastest round is reported, with the range of its wall times.
  const rounds = Math.max(1, Number(values.repeat ?? '1'))
  const best = new Map<string, Session>()
  const walls = new Map<string, number[]>()
  for (let round = 1; round <= rounds; round++) {
    for (const name of runnable) {
      console.error(`ingest: round ${round}/${rounds}: ${name} ...`)
      const session = await runOne(name, tree, then)
      if (session === undefined) continue
      walls.set(name, [...(walls.get(name) ?? []), session.first.measurement.wallS])
      const prev = best.get(name)
      if (prev === undefined || session.first.measurement.wallS < prev.first.measurement.wallS) best.set(name, session)
    }
  }
  const runs = runnable.flatMap((name) => {
    const run = best.get(name)?.first
    if (run === undefined) return []
    const w = walls.get(name) ?? []
    const range = w.length > 1 ? `wall over ${w.length} rounds ${Math.min(...w).toFixed(2)}–${Math.max(...w).toFixed(2)} s` : undefined
    return [{ ...run, note: [run.note, range].filter((x) => x !== undefined).join('; ') || undefined }]
  })
  const followUps = runnable.flatMap((name) => {
    const session = best.get(name)
    if (session === undefined) return []
    let before = session.first.storeBytes
    return session.then.map((run, i) => {
      const row = { tool: run.tool, tree: then[i], run, addedBytes: run.storeBytes - before }
      before = run.storeBytes
      return row
    })
  })
  console.log('')
  if (runs.length > 0) printRuns(runs, size.bytes)
  if (followUps.length > 0) {
    console.log('')
    printFollowUps(followUps)
  }

  console.log('')
  const sample = await sampleTreeBytes(tree, SAMPLE_LIMIT_BYTES)
  const limits = [
    { stage: 'read every file (warm page cache)', bytes: read.value, seconds: read.wallS, cpuSeconds: read.userS + read.sysS, bytesPerSecond: read.value / (read.userS + read.sysS) },
    ...await measureRawLimits(sample.files)
  ]
  printLimits(limits, size.bytes)
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)

  if (values.json !== undefined) {
    await writeFile(values.json, JSON.stringify({ tree, size, versions, runs, followUps, limits, date: new Date().toISOString() }, null, 2) + '\n')
  }
}

await main()
