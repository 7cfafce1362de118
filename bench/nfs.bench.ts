// NFS benchmark, side by side with nfs-ganesha (VFS, exporting the same tree from a plain
// directory) through the same client (libnfs-utils), in the same run:
//   - sequential read of a 1 GiB file (nfs-cat > /dev/null)
//   - nfs-ls -R of a tree of about 10,000 entries
//   - reading many small files, one nfs-cat each (mostly process start, as for ganesha)
// xeno serves the union view straight from the local chunk store: "warm" after one read (chunk
// cache and page cache hot), "cold" in a fresh server process (page cache warm, chunk cache
// empty), "lazy" with an empty local store fetching every block from a XenoStore over loopback.
// Peak RSS of each server is reported. Everything runs in a private network namespace
// (unshare -n -m) with its own rpcbind, which ganesha insists on; nothing leaves loopback.
// Usage: node dist/bench/nfs.bench.js [--only small|read] [TREE]   (default /work/data/t1-apache)
//   --only small: only the small files (no 1 GiB export, no listing, no cold or lazy case),
//   e.g. XENO_BENCH_SMALL=600 XENO_BENCH_RUNS=7 for a steadier small-file figure.
//   --only read: only the big file (cold, warm rounds, lazy unless XENO_BENCH_LAZY=0; no
//   listing, no small files), each round's times, ratio and server CPU, e.g. XENO_BENCH_RUNS=10.
// Env: XENO_BENCH_DIR work dir, kept between runs (default $TMPDIR/xeno-bench-nfs);
//      XENO_BENCH_RUNS (default 9: a round takes ~5 s, and the median of 5 moved by
//      0.2-0.3x between runs minutes apart on this shared VM); XENO_BENCH_SMALL files (default 300), read in
//      XENO_BENCH_SMALL_CHUNKS slices that ganesha and xeno take turns at (default 6);
//      XENO_BENCH_BIG_MIB (default 1024); XENO_BENCH_LAZY=0 skips the lazy case;
//      XENO_BENCH_SAME_SESSION=1 runs the servers in the bench's session (see start()).
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomFillSync } from 'node:crypto'
import { existsSync, createReadStream } from 'node:fs'
import { mkdir, readFile, readdir, rm, stat, writeFile, open } from 'node:fs/promises'
import { connect } from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { measure } from './lib/measure.js'
import { renderTable } from './lib/table.js'
import { listFiles, warmPageCache } from './lib/tree-data.js'
import { parseBenchArgs, usageError } from './lib/args.js'

const MIB = 1_048_576
const self = fileURLToPath(import.meta.url)
const repo = join(self, '..', '..', '..')
const xeno = join(repo, 'bin', 'xeno')
const USAGE = `usage: node dist/bench/nfs.bench.js [--only small|read] [TREE]   (default /work/data/t1-apache)
xeno's NFS server against nfs-ganesha through the same client, in a private network namespace:
a 1 GiB sequential read, nfs-ls -R, and many small files (warm, cold and lazy stores).
  --only small   only the small files (no 1 GiB export, listing, cold or lazy case)
  --only read    only the big file (cold, warm rounds, lazy), each round's times, ratio and server CPU
Env: XENO_BENCH_DIR (work dir), XENO_BENCH_RUNS (9), XENO_BENCH_SMALL (300), XENO_BENCH_SMALL_CHUNKS (6),
     XENO_BENCH_BIG_MIB (1024), XENO_BENCH_LAZY=0 skips the lazy case,
     XENO_BENCH_SAME_SESSION=1 runs the servers in the bench's session (default: a session each)`
const args = parseBenchArgs(USAGE, { only: { type: 'string' } }, 1)
const ONLY = args.values.only
if (ONLY !== undefined && ONLY !== 'small' && ONLY !== 'read') usageError(`--only takes 'small' or 'read', not ${ONLY}`)
/** Only the small files: no big export, listing, cold or lazy case. */
const SMALL_ONLY = ONLY === 'small'
/** Only the big file: no listing, no small files. */
const READ_ONLY = ONLY === 'read'
const TREE = args.positionals[0] ?? '/work/data/t1-apache'
const WORK = process.env.XENO_BENCH_DIR ?? join(tmpdir(), 'xeno-bench-nfs')
const RUNS = Number(process.env.XENO_BENCH_RUNS ?? 9)
const SMALL = Number(process.env.XENO_BENCH_SMALL ?? 300)
/** Slices the small files are read in, ganesha and xeno taking turns (see runCases). */
const SMALL_CHUNKS = Number(process.env.XENO_BENCH_SMALL_CHUNKS ?? 6)
const BIG_MIB = Number(process.env.XENO_BENCH_BIG_MIB ?? 1024)
const LAZY = process.env.XENO_BENCH_LAZY !== '0'

async function waitPort (port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true) })
      s.on('error', () => { resolve(false) })
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`nothing listens on ${port}`)
}

/** Every server this run started; all are killed when it ends, whatever happens. */
const children = new Set<ChildProcess>()
process.on('exit', () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL') })

/**
 * Servers run in a session of their own (`detached`: setsid), as daemons do (ganesha.nfsd
 * without -F, or any systemd service, which also gets its own cgroup): with the kernel's
 * autogroup on (sched_autogroup_enabled, as here), a session is one scheduling group, and a
 * server sharing the bench's session competed inside one group with the very nfs-cat and sh
 * it serves, which is not how a server meets its clients. XENO_BENCH_SAME_SESSION=1 keeps the
 * servers in the bench's session (the setup of sessions 4-6).
 */
const SERVER_SESSION = process.env.XENO_BENCH_SAME_SESSION !== '1'

function start (argv: string[], log: string): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: SERVER_SESSION })
  children.add(child)
  child.on('close', () => { children.delete(child) })
  const out: Buffer[] = []
  child.stdout?.on('data', (b: Buffer) => out.push(b))
  child.stderr?.on('data', (b: Buffer) => out.push(b))
  child.on('close', () => { void writeFile(log, Buffer.concat(out)) })
  return child
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const closed = new Promise((resolve) => child.once('close', resolve))
  child.kill('SIGINT')
  await closed
}

/** Peak RSS (VmHWM) of a running process, in bytes. */
async function peakRss (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024
}

async function xenoCli (args: string[]): Promise<string> {
  const m = await measure([process.execPath, xeno, ...args])
  return m.stdout
}

async function makeBigFile (dir: string): Promise<string> {
  const file = join(dir, 'big.bin')
  if (existsSync(file)) {
    const size = (await stat(file)).size
    if (size !== BIG_MIB * MIB) throw new Error(`${file} holds ${size} bytes, not ${BIG_MIB} MiB: remove it (and its store)`)
    return file
  }
  await mkdir(dir, { recursive: true })
  // Half random, half text-like: realistic for a mix of binaries and data in an image.
  const fh = await open(file, 'w')
  const buf = Buffer.alloc(MIB)
  const text = Buffer.from('lorem ipsum dolor sit amet, consectetur adipiscing elit\n'.repeat(20_000))
  for (let i = 0; i < BIG_MIB; i++) {
    if (i % 2 === 0) randomFillSync(buf); else text.copy(buf, 0, (i * 7919) % 1000, (i * 7919) % 1000 + MIB)
    await fh.write(buf)
  }
  await fh.close()
  return file
}

async function importTree (store: string, dir: string, cache: string): Promise<string> {
  if (existsSync(cache)) return (await readFile(cache, 'utf8')).trim()
  const out = JSON.parse(await xenoCli(['template', 'import', dir, '--store', store, '--json'])) as { root: string }
  await writeFile(cache, out.root)
  return out.root
}

async function sha256Of (file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const c of createReadStream(file)) h.update(c as Buffer)
  return h.digest('hex')
}

const pct = (share: number): string => (share * 100).toFixed(0)

function median (xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]! }

/** A server under test; `bigPid`/`treePid` name the process serving each export (read when measured). */
interface Target { name: string, bigUrl: string, treeUrl: string, bigPid: () => number, treePid: () => number }

/**
 * Per round and case: the serving process's CPU time (s) and context switches (all its threads),
 * and the share of the machine's CPU time the hypervisor took meanwhile (steal, 0-1).
 */
interface Usage { cpu: number, sleeps: number, preempted: number, steal: number }
type PerCase<T> = { big: T, ls: T, small: T }
/** Per round: client wall times (s), and what the serving process used during each case. */
interface Results { big: number[], ls: number[], lsLines: number, small: number[], use: PerCase<Usage[]> }

/** User + system CPU time of a process so far, in seconds (/proc/PID/stat, clock ticks of 10 ms). */
async function cpuOf (pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Context switches of each of a process's threads so far, by thread id. */
type Switches = Map<string, { sleeps: number, preempted: number }>

/**
 * Voluntary and involuntary context switches of each of a process's threads so far: a thread
 * that sleeps waiting for the next call switches voluntarily, one the scheduler takes the core
 * from (another process, here mostly the client, became runnable) involuntarily.
 */
async function switchesOf (pid: number): Promise<Switches> {
  const out: Switches = new Map()
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const status = await readFile(`/proc/${pid}/task/${tid}/status`, 'utf8').catch(() => '')
    out.set(tid, {
      sleeps: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0),
      preempted: Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0)
    })
  }
  return out
}

/**
 * Switches between two readings, thread by thread: ganesha starts and ends worker threads, and
 * a sum over the threads alive at each reading went negative when one ended. A thread that
 * ended in between is left out (its last switches are not seen); one that started counts whole.
 */
function switchesBetween (before: Switches, after: Switches): { sleeps: number, preempted: number } {
  let sleeps = 0; let preempted = 0
  for (const [tid, a] of after) {
    const b = before.get(tid)
    sleeps += a.sleeps - (b?.sleeps ?? 0)
    preempted += a.preempted - (b?.preempted ?? 0)
  }
  return { sleeps, preempted }
}

/**
 * Time the hypervisor ran something else on this VM's CPUs so far, in CPU-seconds (the steal
 * column of /proc/stat): on this machine it comes in bursts of up to two fifths of both cores,
 * which slow both servers (and the client) for a minute or two.
 */
async function stealOf (): Promise<number> {
  const fields = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0]!.trim().split(/\s+/)
  return Number(fields[8] ?? 0) / 100
}

/** Runs `fn` and returns what `pid` used meanwhile, divided by `per` (steal: a share of the interval). */
async function serverUse (pid: number, fn: () => Promise<unknown>, per = 1): Promise<Usage> {
  const cpu = await cpuOf(pid); const sw = await switchesOf(pid); const steal = await stealOf(); const t0 = performance.now()
  await fn()
  const sw2 = switchesBetween(sw, await switchesOf(pid))
  const stolen = (await stealOf() - steal) / (((performance.now() - t0) / 1000) * availableParallelism())
  return { cpu: (await cpuOf(pid) - cpu) / per, sleeps: sw2.sleeps / per, preempted: sw2.preempted / per, steal: stolen }
}

/**
 * `runs` rounds; each round measures the big file and the listing on each target in turn
 * (ganesha first in even rounds, xeno first in odd ones), so both see the same moment of a
 * shared machine's load. The small files are read in SMALL_CHUNKS slices, the targets taking
 * turns slice by slice (the one that listed last starts), so that a load that comes or goes
 * during a round's few seconds of small reads falls on both.
 */
async function runCases (targets: Target[], smallFiles: string[], runs: number): Promise<Map<Target, Results>> {
  const out = new Map<Target, Results>(targets.map((t) => [t, { big: [], ls: [], lsLines: 0, small: [], use: { big: [], ls: [], small: [] } }]))
  const script = (t: Target, files: string[]): string => files.map((f) => `nfs-cat "${t.treeUrl.replace('?', `/${f}?`)}" > /dev/null || exit 1`).join('\n')
  const size = Math.ceil(smallFiles.length / SMALL_CHUNKS)
  const chunks = Array.from({ length: Math.ceil(smallFiles.length / size) }, (_, i) => smallFiles.slice(i * size, (i + 1) * size))
  for (let i = 0; i < runs; i++) {
    // Who goes first alternates by round, so neither always follows the other's work (or its own listing).
    const order = i % 2 === 0 ? targets : [...targets].reverse()
    for (const t of SMALL_ONLY ? [] : order) {
      const r = out.get(t)!
      r.use.big.push(await serverUse(t.bigPid(), async () => {
        r.big.push((await measure(['sh', '-c', `nfs-cat "${t.bigUrl.replace('?', '/big.bin?')}" > /dev/null`])).wallS)
      }))
      if (READ_ONLY) continue
      r.use.ls.push(await serverUse(t.treePid(), async () => {
        const l = await measure(['nfs-ls', '-R', t.treeUrl])
        r.ls.push(l.wallS)
        r.lsLines = l.stdout.trim().split('\n').length
      }))
    }
    const small = new Map<Target, { wallS: number, use: Usage }>(targets.map((t) => [t, { wallS: 0, use: { cpu: 0, sleeps: 0, preempted: 0, steal: 0 } }]))
    for (const [k, files] of READ_ONLY ? [] : chunks.entries()) {
      for (const t of k % 2 === 0 ? [...order].reverse() : order) {
        const sum = small.get(t)!
        const use = await serverUse(t.treePid(), async () => { sum.wallS += (await measure(['sh', '-c', script(t, files)])).wallS })
        sum.use.cpu += use.cpu; sum.use.sleeps += use.sleeps; sum.use.preempted += use.preempted; sum.use.steal += use.steal / chunks.length
      }
    }
    for (const t of targets) {
      const { wallS, use } = small.get(t)!
      const n = smallFiles.length
      out.get(t)!.small.push(wallS / n)
      out.get(t)!.use.small.push({ cpu: use.cpu / n, sleeps: use.sleeps / n, preempted: use.preempted / n, steal: use.steal })
    }
  }
  return out
}

function medians (r: Results): { big: number, ls: number, lsLines: number, small: number } {
  return { big: median(r.big), ls: median(r.ls), lsLines: r.lsLines, small: median(r.small) }
}

async function main (): Promise<void> {
  await mkdir(WORK, { recursive: true })
  // One directory per size (the 1 GiB one keeps its first name): a file of another size would
  // be served from a store imported for this size, with a chunk cache sized for it.
  const bigDir = join(WORK, BIG_MIB === 1024 ? 'big' : `big-${BIG_MIB}`)
  const bigFile = SMALL_ONLY ? '' : await makeBigFile(bigDir)
  // One store per export: a local store is held by one process at a time.
  const bigStore = join(WORK, `store-big-${BIG_MIB}`)
  const treeStore = join(WORK, `store-tree-${TREE.replaceAll('/', '_')}`)
  const bigRoot = SMALL_ONLY ? '' : await importTree(bigStore, bigDir, join(bigStore + '.root'))
  const treeRoot = await importTree(treeStore, TREE, join(treeStore + '.root'))
  const smallFiles = (await listFiles(TREE))
    .filter((f) => f.size > 0 && f.size <= 16_384 && /^[A-Za-z0-9._/+-]+$/.test(f.path))
    .slice(0, SMALL).map((f) => f.path.slice(TREE.length + 1))
  process.stdout.write(`tree ${TREE}, big file ${BIG_MIB} MiB, ${smallFiles.length} small files, ${RUNS} rounds (median; each round runs every case on both, ganesha or xeno first in turn, the small files in ${SMALL_CHUNKS} slices taken in turn)\n`)
  await warmPageCache(TREE)
  if (!SMALL_ONLY) await warmPageCache(bigDir)

  // ganesha: rpcbind first (ganesha registers with it), then a foreground ganesha.nfsd.
  const gdir = join(WORK, 'ganesha')
  await rm(gdir, { recursive: true, force: true })
  await mkdir(gdir, { recursive: true })
  await writeFile(join(gdir, 'ganesha.conf'), [
    'NFS_CORE_PARAM { NFS_Port = 20600; MNT_Port = 20601; NLM_Port = 20602; Rquota_Port = 20603;',
    '  Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; Protocols = 3;',
    '  Plugins_Dir = /usr/lib/x86_64-linux-gnu/ganesha; }',
    'NFSV4 { Graceless = true; }',
    ...(SMALL_ONLY ? [] : [`EXPORT { Export_Id = 1; Path = ${bigDir}; Pseudo = /big; Protocols = 3; Transports = TCP; Access_Type = RW; Squash = No_Root_Squash; FSAL { Name = VFS; } }`]),
    `EXPORT { Export_Id = 2; Path = ${TREE}; Pseudo = /tree; Protocols = 3; Transports = TCP; Access_Type = RO; Squash = No_Root_Squash; FSAL { Name = VFS; } }`,
    'LOG { Default_Log_Level = WARN; }'
  ].join('\n'))
  const rpcbind = start(['rpcbind', '-f', '-i'], join(gdir, 'rpcbind.log'))
  await waitPort(111)
  const ganesha = start(['ganesha.nfsd', '-F', '-f', join(gdir, 'ganesha.conf'), '-L', join(gdir, 'ganesha.log'), '-p', join(gdir, 'pid'), '-N', 'NIV_WARN'], join(gdir, 'out.log'))
  await waitPort(20600)

  // The big export's chunk cache holds the whole file: "warm" means every chunk decompressed in
  // memory (ganesha's warm is the kernel page cache); its RSS is reported below.
  const serve = (root: string, port: number, state: string): ChildProcess =>
    start([process.execPath, xeno, 'nfs', 'serve', '--store', state === 'state-big' ? bigStore : treeStore, '--layer', root, '--listen', `127.0.0.1:${port}`, '--state', join(WORK, state),
      ...(state === 'state-big' ? ['--cache-mb', String(BIG_MIB + 128)] : [])], join(WORK, `${state}.log`))
  const xTree = serve(treeRoot, 20611, 'state-tree')
  await waitPort(20611)
  if (SMALL_ONLY) {
    try { await smallOnly(ganesha, xTree, smallFiles) } finally { await stop(xTree); await stop(ganesha); await stop(rpcbind) }
    return
  }
  let xBig = serve(bigRoot, 20610, 'state-big')
  await waitPort(20610)

  const g: Target = {
    name: 'ganesha',
    bigUrl: `nfs://127.0.0.1${bigDir}?version=3&nfsport=20600&mountport=20601`,
    treeUrl: `nfs://127.0.0.1${TREE}?version=3&nfsport=20600&mountport=20601`,
    bigPid: () => ganesha.pid!,
    treePid: () => ganesha.pid!
  }
  const x: Target = {
    name: 'xeno',
    bigUrl: 'nfs://127.0.0.1/export?version=3&nfsport=20610&mountport=20610',
    treeUrl: 'nfs://127.0.0.1/export?version=3&nfsport=20611&mountport=20611',
    bigPid: () => xBig.pid!,
    treePid: () => xTree.pid!
  }
  try {
    // Same bytes through both servers.
    const want = await sha256Of(bigFile)
    for (const t of [g, x]) {
      const got = (await measure(['sh', '-c', `nfs-cat "${t.bigUrl.replace('?', '/big.bin?')}" | sha256sum`])).stdout.split(' ')[0]
      if (got !== want) throw new Error(`${t.name} returned other bytes (${got} != ${want})`)
    }
    // Cold: a fresh xeno process (empty chunk cache), first read only.
    await stop(xBig)
    xBig = serve(bigRoot, 20610, 'state-big')
    await waitPort(20610)
    const cold = (await measure(['sh', '-c', `nfs-cat "${x.bigUrl.replace('?', '/big.bin?')}" > /dev/null`])).wallS
    await runCases([g, x], smallFiles, 1) // warm-up round
    const results = await runCases([g, x], smallFiles, RUNS)
    const gr = medians(results.get(g)!)
    const xr = medians(results.get(x)!)
    const rss = { ganesha: await peakRss(ganesha.pid!), big: await peakRss(xBig.pid!), tree: await peakRss(xTree.pid!) }
    await stop(xBig)
    let lazy: number | undefined
    if (LAZY) lazy = await lazyRead(bigStore, bigRoot)
    if (READ_ONLY) {
      const gb = results.get(g)!; const xb = results.get(x)!
      const ratios = gb.big.map((v, i) => v / xb.big[i]!)
      const cpus = (r: Results): string => r.use.big.map((u) => fmt(u.cpu)).join(' ')
      process.stdout.write(`${BIG_MIB} MiB, every round: ganesha ${gb.big.map(fmt).join(' ')}; xeno ${xb.big.map(fmt).join(' ')}\n`)
      process.stdout.write(`xeno vs ganesha: ${ratios.map((r) => `${r.toFixed(2)}x`).join(' ')}; median of rounds ${median(ratios).toFixed(2)}x, of times ${(gr.big / xr.big).toFixed(2)}x (ganesha ${fmt(gr.big)}, xeno ${fmt(xr.big)}), worst round ${Math.min(...ratios).toFixed(2)}x\n`)
      process.stdout.write(`server CPU, every round: ganesha ${cpus(gb)}; xeno ${cpus(xb)}\n`)
      process.stdout.write(`host steal while ganesha/xeno ran, every round (% of both cores): ${gb.use.big.map((u, i) => `${pct(u.steal)}/${pct(xb.use.big[i]!.steal)}`).join(' ')}\n`)
      process.stdout.write(`xeno cold ${fmt(cold)}${lazy !== undefined ? `, lazy from store ${fmt(lazy)}` : ''}; peak RSS: ganesha ${(rss.ganesha / MIB).toFixed(0)} MiB, xeno (1 GiB export) ${(rss.big / MIB).toFixed(0)} MiB\n`)
      return
    }
    // Each round measures both servers back to back: the median of those paired ratios leaves
    // out what drifts between rounds (this VM's speed varies by 2-3x over minutes).
    const paired = (k: 'big' | 'ls' | 'small'): number => median(results.get(g)![k].map((v, i) => v / results.get(x)![k][i]!))
    const rows = [
      { what: `nfs-cat ${BIG_MIB} MiB`, g: gr.big, x: xr.big, paired: paired('big'), extra: `cold ${cold.toFixed(2)} s${lazy !== undefined ? `, lazy from store ${lazy.toFixed(2)} s` : ''}` },
      { what: `nfs-ls -R (${gr.lsLines} / ${xr.lsLines} entries)`, g: gr.ls, x: xr.ls, paired: paired('ls'), extra: '' },
      { what: `nfs-cat of a small file (x${smallFiles.length})`, g: gr.small, x: xr.small, paired: paired('small'), extra: '' }
    ]
    process.stdout.write(renderTable([
      { header: 'case', cell: (r) => r.what, align: 'left' },
      { header: 'ganesha', cell: (r) => fmt(r.g) },
      { header: 'xeno (warm)', cell: (r) => fmt(r.x) },
      { header: 'xeno vs ganesha', cell: (r) => `${(r.g / r.x).toFixed(2)}x` },
      { header: 'median of rounds', cell: (r) => `${r.paired.toFixed(2)}x` },
      { header: 'notes', cell: (r) => r.extra, align: 'left' }
    ], rows) + '\n')
    const spread = (v: number[]): string => v.map((x) => fmt(x)).join(' ')
    for (const [name, r] of [['ganesha', results.get(g)!], ['xeno', results.get(x)!]] as const) {
      process.stdout.write(`every round, ${name}: ${BIG_MIB} MiB ${spread(r.big)}; ls -R ${spread(r.ls)}; small ${spread(r.small)}\n`)
    }
    const ratios = (k: 'big' | 'ls' | 'small'): string => results.get(g)![k].map((v, i) => `${(v / results.get(x)![k][i]!).toFixed(2)}x`).join(' ')
    process.stdout.write(`every round, xeno vs ganesha: ${BIG_MIB} MiB ${ratios('big')}; ls -R ${ratios('ls')}; small ${ratios('small')}\n`)
    // Server CPU time: steadier than wall time on a shared machine (it leaves out waiting for the CPU).
    const cpu = (r: Results): string => `${BIG_MIB} MiB ${fmt(median(r.use.big.map((u) => u.cpu)))}, ls -R ${fmt(median(r.use.ls.map((u) => u.cpu)))}, small file ${fmt(median(r.use.small.map((u) => u.cpu)))}`
    process.stdout.write(`server CPU (median): ganesha ${cpu(results.get(g)!)}; xeno ${cpu(results.get(x)!)}\n`)
    for (const [name, r] of [['ganesha', results.get(g)!], ['xeno', results.get(x)!]] as const) {
      const rounds = (us: Usage[], digits = 0): string => us.map((u) => `${fmt(u.cpu)} ${u.sleeps.toFixed(digits)}/${u.preempted.toFixed(digits)}`).join(', ')
      process.stdout.write(`every round, ${name} server CPU and sleeps/preemptions: ${BIG_MIB} MiB ${rounds(r.use.big)}; ls -R ${rounds(r.use.ls)}; small file ${rounds(r.use.small, 1)}\n`)
    }
    const steal = (k: 'big' | 'ls' | 'small'): string => results.get(g)!.use[k].map((u, i) => `${pct(u.steal)}/${pct(results.get(x)!.use[k][i]!.steal)}`).join(' ')
    process.stdout.write(`every round, host steal while ganesha/xeno ran (% of both cores): ${BIG_MIB} MiB ${steal('big')}; ls -R ${steal('ls')}; small ${steal('small')}\n`)
    process.stdout.write(`throughput: ganesha ${(BIG_MIB / gr.big).toFixed(0)} MiB/s, xeno ${(BIG_MIB / xr.big).toFixed(0)} MiB/s\n`)
    process.stdout.write(`peak RSS: ganesha ${(rss.ganesha / MIB).toFixed(0)} MiB, xeno (1 GiB export) ${(rss.big / MIB).toFixed(0)} MiB, xeno (tree export) ${(rss.tree / MIB).toFixed(0)} MiB\n`)
  } finally {
    await stop(xBig); await stop(xTree); await stop(ganesha); await stop(rpcbind)
  }
}

/** --only small: the small files alone, each round's figures and the median ratio. */
async function smallOnly (ganesha: ChildProcess, xTree: ChildProcess, smallFiles: string[]): Promise<void> {
  const none = (): number => { throw new Error('no big export with --only small') }
  const g: Target = { name: 'ganesha', bigUrl: '', treeUrl: `nfs://127.0.0.1${TREE}?version=3&nfsport=20600&mountport=20601`, bigPid: none, treePid: () => ganesha.pid! }
  const x: Target = { name: 'xeno', bigUrl: '', treeUrl: 'nfs://127.0.0.1/export?version=3&nfsport=20611&mountport=20611', bigPid: none, treePid: () => xTree.pid! }
  await runCases([g, x], smallFiles, 1) // warm-up round
  const results = await runCases([g, x], smallFiles, RUNS)
  const gr = results.get(g)!; const xr = results.get(x)!
  const ratios = gr.small.map((v, i) => v / xr.small[i]!)
  process.stdout.write(`small files (x${smallFiles.length}), every round: ganesha ${gr.small.map(fmt).join(' ')}; xeno ${xr.small.map(fmt).join(' ')}\n`)
  process.stdout.write(`xeno vs ganesha: ${ratios.map((r) => `${r.toFixed(2)}x`).join(' ')}; median of rounds ${median(ratios).toFixed(2)}x, of times ${(median(gr.small) / median(xr.small)).toFixed(2)}x (ganesha ${fmt(median(gr.small))}, xeno ${fmt(median(xr.small))})\n`)
  const cpu = (r: Results): string => `${fmt(median(r.use.small.map((u) => u.cpu)))} CPU, ${median(r.use.small.map((u) => u.sleeps)).toFixed(1)} sleeps, ${median(r.use.small.map((u) => u.preempted)).toFixed(1)} preemptions`
  process.stdout.write(`server per file (median): ganesha ${cpu(gr)}; xeno ${cpu(xr)}\n`)
}

function fmt (s: number): string { return s < 0.1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(3)} s` }

/** First read of the big file by a server whose local store is empty: every block comes from a XenoStore. */
async function lazyRead (store: string, root: string): Promise<number> {
  const remote = join(WORK, 'lazy-remote')
  const empty = join(WORK, 'lazy-local')
  await rm(remote, { recursive: true, force: true }); await rm(empty, { recursive: true, force: true })
  const storeServer = start([process.execPath, xeno, 'store', 'serve', '--data', remote, '--store', remote, '--listen', '127.0.0.1:20620'], join(WORK, 'lazy-store.log'))
  await waitPort(20620)
  try {
    await xenoCli(['push', root, '--to', 'http://127.0.0.1:20620', '--store', store])
    const server = start([process.execPath, xeno, 'nfs', 'serve', '--store', empty, '--layer', root, '--from', 'http://127.0.0.1:20620', '--listen', '127.0.0.1:20621', '--state', join(WORK, 'state-lazy')], join(WORK, 'lazy-nfs.log'))
    await waitPort(20621)
    try {
      return (await measure(['sh', '-c', 'nfs-cat "nfs://127.0.0.1/export/big.bin?version=3&nfsport=20621&mountport=20621" > /dev/null'])).wallS
    } finally { await stop(server) }
  } finally { await stop(storeServer) }
}

if (process.env.XENO_NFS_BENCH_NS !== '1') {
  // Re-run inside a private network and mount namespace: rpcbind on 111 and /run are ours.
  const child = spawn('unshare', ['-n', '-m', 'sh', '-c',
    `mount -t tmpfs tmpfs /run && ip link set lo up && exec "${process.execPath}" "${self}" "$@"`, 'sh', ...process.argv.slice(2)],
  { stdio: 'inherit', env: { ...process.env, XENO_NFS_BENCH_NS: '1' } })
  child.on('close', (code) => { process.exitCode = code ?? 1 })
} else {
  try {
    await main()
  } finally {
    await Promise.all([...children].map(async (c) => { await stop(c) }))
  }
}
