// NFS load run: N concurrent real clients (libnfs-utils processes, default 16) reading and
// writing one copy-on-write export for M minutes (default 10): each client loops over
// nfs-cp of a fresh file into the export, nfs-cat of it back (bytes compared), nfs-cat of a
// template file (bytes compared) and nfs-ls of a directory. Reports operations, errors
// (expected 0), and the server's RSS sampled every 5 s with what its caches hold then (the
// server's --stats): memory is flat when RSS stops growing once the caches are full. The
// caches are sized to fill within the first minute (their defaults, 256 MiB of chunks, 32 MiB
// of replies and 131,072 Kv entries, take longer than the run to fill): 8 MiB of chunks (the
// 500 template files read are about 18 MiB), 4 MiB of replies, 4,096 Kv entries, and 4,096 of
// each per-file map (handles, node paths and attributes, listed entries: --node-cache-entries,
// 65,536 by default, which the files a run creates do not fill); their fill is printed by
// minute beside RSS.
// Usage: node dist/bench/nfs-load.bench.js [TREE]  (default /work/data/t1, else a generated tree)
// Env: XENO_BENCH_CLIENTS (16), XENO_BENCH_MINUTES (10), XENO_BENCH_DIR (work dir),
//      XENO_BENCH_CACHE_MB (--cache-mb, 8), XENO_BENCH_REPLY_MB (--reply-cache-mb, 4),
//      XENO_BENCH_KV_ENTRIES (--kv-cache-entries, 4096), XENO_BENCH_NODE_ENTRIES (--node-cache-entries, 4096).
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { listFiles } from './lib/tree-data.js'
import { parseBenchArgs } from './lib/args.js'

const run = promisify(execFile)
const xeno = fileURLToPath(new URL('../../bin/xeno', import.meta.url))
const USAGE = `usage: node dist/bench/nfs-load.bench.js [TREE]   (default /work/data/t1, else a generated tree)
N concurrent NFS clients read and write one copy-on-write export for M minutes; reports
operations, errors and the server's RSS over time.
Env: XENO_BENCH_CLIENTS (16), XENO_BENCH_MINUTES (10), XENO_BENCH_DIR (work dir),
     XENO_BENCH_CACHE_MB (8), XENO_BENCH_REPLY_MB (4), XENO_BENCH_KV_ENTRIES (4096), XENO_BENCH_NODE_ENTRIES (4096)`
const TREE = parseBenchArgs(USAGE, {}, 1).positionals[0] ?? '/work/data/t1'
const CLIENTS = Number(process.env.XENO_BENCH_CLIENTS ?? 16)
const MINUTES = Number(process.env.XENO_BENCH_MINUTES ?? 10)
const WORK = process.env.XENO_BENCH_DIR ?? join(tmpdir(), 'xeno-bench-nfs-load')
const CACHE_MB = Number(process.env.XENO_BENCH_CACHE_MB ?? 8)
const REPLY_MB = Number(process.env.XENO_BENCH_REPLY_MB ?? 4)
const KV_ENTRIES = Number(process.env.XENO_BENCH_KV_ENTRIES ?? 4096)
const NODE_ENTRIES = Number(process.env.XENO_BENCH_NODE_ENTRIES ?? 4096)
/** Seconds between the server's stats lines. */
const STATS_EVERY = 5

/** What the server's --stats prints (src/cli/commands/nfs-serve.ts). */
interface ServerStats { rss: number, heapUsed: number, heapTotal: number, external: number, arrayBuffers: number, chunkCacheBytes: number, replyCacheBytes: number, kvCacheEntries: number, malloc?: { heap: number, inUse: number, free: number, mmapped: number }, mallocTrim?: { runs: number, released: number, lastMs: number }, rssAnon?: number, rssFile?: number }

async function main (): Promise<void> {
  await rm(WORK, { recursive: true, force: true })
  await mkdir(WORK, { recursive: true })
  let tree = TREE
  if (!existsSync(tree)) {
    tree = join(WORK, 'tree')
    for (let i = 0; i < 200; i++) {
      await mkdir(join(tree, `d${i % 10}`), { recursive: true })
      await writeFile(join(tree, `d${i % 10}`, `f${i}`), Buffer.alloc(1000 + i * 100, i))
    }
  }
  const { stdout } = await run(process.execPath, [xeno, 'template', 'import', tree, '--store', join(WORK, 'store'), '--json'], { maxBuffer: 1 << 24 })
  const root = (JSON.parse(stdout) as { root: string }).root
  const files = (await listFiles(tree)).filter((f) => f.size > 0 && f.size < 1_000_000 && /^[A-Za-z0-9._/+-]+$/.test(f.path)).slice(0, 500)
  const server: ChildProcess = spawn(process.execPath, [xeno, 'nfs', 'serve', '--store', join(WORK, 'store'), '--layer', root,
    '--writable', join(WORK, 'upper'), '--state', join(WORK, 'state'), '--listen', '127.0.0.1:0',
    '--cache-mb', String(CACHE_MB), '--reply-cache-mb', String(REPLY_MB), '--kv-cache-entries', String(KV_ENTRIES), '--node-cache-entries', String(NODE_ENTRIES), '--stats', String(STATS_EVERY)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const samples: ServerStats[] = []
  let sampling = false
  const port = await new Promise<number>((resolve) => {
    let out = ''
    server.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /:(\d+) \(mount/.exec(out); if (m !== null) resolve(Number(m[1]))
      let nl: number
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl); out = out.slice(nl + 1)
        if (sampling && line.startsWith('stats ')) samples.push(JSON.parse(line.slice(6)) as ServerStats)
      }
    })
  })
  const url = (path: string): string => `nfs://127.0.0.1/export${path}?version=3&nfsport=${port}&mountport=${port}`
  await run('nfs-ls', [url('')])
  const until = Date.now() + MINUTES * 60_000
  const counts = { ops: 0, errors: 0, bytesWritten: 0 }
  let written = 0
  const errors: string[] = []
  sampling = true
  const client = async (n: number): Promise<void> => {
    const scratch = join(WORK, `client-${n}`)
    await mkdir(scratch, { recursive: true })
    for (let i = 0; Date.now() < until; i++) {
      try {
        const body = Buffer.alloc(4096 + ((n * 7919 + i * 104729) % 300_000), (n + i) & 0xff)
        const local = join(scratch, 'up')
        await writeFile(local, body)
        const name = `/tmp/load-${n}-${i}`
        await run('nfs-cp', [local, url(name)])
        written++
        const back = (await run('nfs-cat', [url(name)], { encoding: 'buffer', maxBuffer: 1 << 24 })).stdout
        if (Buffer.compare(back, body) !== 0) throw new Error(`${name} read back differs`)
        const f = files[(n * 31 + i) % files.length]!
        const got = (await run('nfs-cat', [url(f.path.slice(tree.length))], { encoding: 'buffer', maxBuffer: 1 << 24 })).stdout
        if (Buffer.compare(got, await readFile(f.path)) !== 0) throw new Error(`${f.path} differs`)
        await run('nfs-ls', [url(f.path.slice(tree.length, f.path.lastIndexOf('/')))], { maxBuffer: 1 << 24 })
        counts.ops += 4
        counts.bytesWritten += body.length
      } catch (err) {
        counts.errors++
        if (errors.length < 10) errors.push((err as Error).message.split('\n')[0]!)
      }
    }
  }
  const started = Date.now()
  await Promise.all(Array.from({ length: CLIENTS }, async (_, n) => { await client(n) }))
  sampling = false
  const secs = (Date.now() - started) / 1000
  server.kill('SIGINT')
  await new Promise((resolve) => server.once('close', resolve))
  const mib = (b: number): string => `${(b / 1_048_576).toFixed(0)} MiB`
  const rss = samples.map((x) => x.rss)
  // Bytes the caches hold: decompressed chunks and kept replies (the Kv caches' entries are counted, not sized).
  const cached = (x: ServerStats): number => x.chunkCacheBytes + x.replyCacheBytes
  const perMinute = 60 / STATS_EVERY
  const byMinute = samples.filter((_, i) => i % perMinute === perMinute - 1)
  const row = (f: (x: ServerStats) => string): string => byMinute.map(f).join(' ')
  const afterFirst = samples.slice(perMinute)
  // Least-squares slope of RSS over the samples after the first minute, in MiB per minute:
  // flat memory has a slope near 0 whatever the swings of garbage awaiting collection.
  const slope = (xs: number[]): string => {
    if (xs.length < 2) return '-'
    const n = xs.length
    const mt = (n - 1) / 2
    const my = xs.reduce((a, b) => a + b, 0) / n
    let num = 0; let den = 0
    xs.forEach((y, i) => { num += (i - mt) * (y - my); den += (i - mt) ** 2 })
    return `${((num / den) * perMinute / 1_048_576).toFixed(2)} MiB/min`
  }
  const range = (xs: number[]): string => xs.length === 0 ? '-' : `${mib(Math.min(...xs))} - ${mib(Math.max(...xs))}`
  process.stdout.write([
    `${CLIENTS} clients for ${secs.toFixed(0)} s against ${tree}; ${written} files written (the export grows by one per round; the server's per-file maps are bounded at ${NODE_ENTRIES} entries each)`,
    `operations: ${counts.ops} (${(counts.ops / secs).toFixed(1)}/s), errors: ${counts.errors}, written ${mib(counts.bytesWritten)}`,
    `server RSS: max ${mib(Math.max(...rss))} (${rss.length} samples every ${STATS_EVERY} s); after the first minute ${range(afterFirst.map((x) => x.rss))}`,
    `server RSS less the caches' contents: after the first minute ${range(afterFirst.map((x) => x.rss - cached(x)))}`,
    `server RSS trend after the first minute (least squares): ${slope(afterFirst.map((x) => x.rss))}; anonymous memory ${slope(afterFirst.map((x) => x.rssAnon ?? 0))}`,
    `  RSS at the end of minute 1 and of the run: ${byMinute.length > 0 ? mib(byMinute[0]!.rss) : '-'}, ${samples.length > 0 ? mib(samples.at(-1)!.rss) : '-'}`,
    'by minute (MiB unless counted):',
    `  RSS                 ${row((x) => (x.rss / 1_048_576).toFixed(0))}`,
    // The kernel's split: anonymous memory against file pages mapped in (LevelDB reads its tables through mmap).
    `  of it anonymous     ${row((x) => x.rssAnon === undefined ? '-' : (x.rssAnon / 1_048_576).toFixed(0))}`,
    `  of it file-mapped   ${row((x) => x.rssFile === undefined ? '-' : (x.rssFile / 1_048_576).toFixed(0))}`,
    `  chunk cache (${CACHE_MB})   ${row((x) => (x.chunkCacheBytes / 1_048_576).toFixed(0))}`,
    `  kept replies (${REPLY_MB})   ${row((x) => (x.replyCacheBytes / 1_048_576).toFixed(0))}`,
    `  Kv entries (${KV_ENTRIES}/Kv) ${row((x) => String(x.kvCacheEntries))}`,
    `  V8 heap used        ${row((x) => (x.heapUsed / 1_048_576).toFixed(0))}`,
    `  V8 heap total       ${row((x) => (x.heapTotal / 1_048_576).toFixed(0))}`,
    `  array buffers       ${row((x) => (x.arrayBuffers / 1_048_576).toFixed(0))}`,
    `  other native        ${row((x) => ((x.rss - x.heapTotal - x.external) / 1_048_576).toFixed(0))}`,
    // glibc's own account (mallinfo2): live allocations against what it holds free.
    `  malloc in use       ${row((x) => x.malloc === undefined ? '-' : ((x.malloc.inUse + x.malloc.mmapped) / 1_048_576).toFixed(0))}`,
    `  malloc free (kept)  ${row((x) => x.malloc === undefined ? '-' : (x.malloc.free / 1_048_576).toFixed(0))}`,
    `  last trim (ms)      ${row((x) => x.mallocTrim === undefined ? '-' : x.mallocTrim.lastMs.toFixed(1))}`,
    `  RSS - caches        ${row((x) => ((x.rss - cached(x)) / 1_048_576).toFixed(0))}`,
    ...errors.map((e) => `error: ${e}`)
  ].join('\n') + '\n')
  process.exitCode = counts.errors === 0 ? 0 : 1
}

await main()
