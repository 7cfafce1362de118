/**
 * Scale benchmark (issue 2: "peak RSS under 300 MB whatever the tree size", files of many GB,
 * no node growing without bound): generates a large synthetic tree, imports it with `xeno
 * template import` and with `casync make` in the same run, imports it again into the same
 * store, exports it with `xeno export` and checks the export with rsync (content and metadata).
 * Prints wall, CPU, peak RSS and store bytes of each step; asserts nothing but the export check.
 *
 *   npx tsc -p . && node dist/bench/scale.bench.js [--big-gib 5] [--files 100000] [--wide 50000]
 *       [--dir DIR] [--only xeno,casync] [--keep]
 *
 * The tree: one file of --big-gib GiB (offsets past 4 GiB; 64 MiB of random bytes and text in
 * turn, every 4 KiB stamped with its offset so nothing repeats), --wide small files in one
 * directory, and the rest of --files in 100-entry directories three levels deep (0-16 KiB each,
 * text and random). Needs about 3.5x --big-gib GiB of free disk under --dir (default $TMPDIR).
 */
import { execFileSync } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { mkdirSync, openSync, writeSync, closeSync, writeFileSync, existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseBenchArgs, usageError } from './lib/args.js'
import { settleBenchEnvironment } from './lib/environment.js'
import { cpuSeconds, measure, type Measurement } from './lib/measure.js'
import { treeSize } from './lib/size.js'
import { fmtCount, fmtMB, fmtMiB, fmtRatio, fmtSeconds, renderTable } from './lib/table.js'
import { warmPageCache } from './lib/tree-data.js'
import { XENO_BIN } from './lib/xeno-deploy.js'

const GIB = 1024 ** 3
const MIB = 1024 ** 2
const USAGE = `usage: node dist/bench/scale.bench.js [options]

Imports a generated large tree with xeno and casync, re-imports and exports it with xeno,
checks the export with rsync, and prints wall, CPU, peak RSS and store bytes of each step.

options:
  --big-gib N     size of the one big file in GiB (default 5)
  --files N       small files in all (default 100000)
  --wide N        of them in one directory (default 50000)
  --dir DIR       where the tree, stores and export go (default: a new directory in $TMPDIR)
  --only LIST     tools to compare: xeno,casync (default both)
  --keep          keep the generated tree and stores
  -h, --help      this text
`

interface Step { readonly step: string, readonly m: Measurement, readonly storeBytes?: number, readonly bytes: number }

/** The big file: 64 MiB pieces of random bytes and of text in turn, each 4 KiB stamped with its offset. */
function writeBigFile (path: string, bytes: number): void {
  const random = Buffer.alloc(64 * MIB)
  randomFillSync(random)
  const line = 'the quick brown fox jumps over the lazy dog; 0123456789 etc\n'
  const text = Buffer.alloc(64 * MIB, line)
  const fd = openSync(path, 'w')
  try {
    for (let at = 0; at < bytes; at += 64 * MIB) {
      const piece = (at / (64 * MIB)) % 2 === 0 ? random : text
      const n = Math.min(64 * MIB, bytes - at)
      for (let o = 0; o < n; o += 4096) piece.writeBigUInt64LE(BigInt(at + o), o) // unique 4 KiB blocks
      writeSync(fd, piece, 0, n, at)
    }
  } finally { closeSync(fd) }
}

/** A small file's bytes: text for even i, random for odd, 0-16 KiB. */
function smallFile (i: number): Buffer {
  const size = (i * 7919) % 16_385
  if (i % 2 === 1) { const b = Buffer.alloc(size); randomFillSync(b); return b }
  return Buffer.from(`file ${i}\n`.repeat(Math.ceil(size / 8) + 1)).subarray(0, size)
}

function generate (tree: string, bigBytes: number, files: number, wide: number): void {
  mkdirSync(join(tree, 'wide'), { recursive: true })
  writeBigFile(join(tree, 'big.bin'), bigBytes)
  for (let i = 0; i < wide; i++) writeFileSync(join(tree, 'wide', `f${i}`), smallFile(i))
  for (let i = wide; i < files; i++) {
    const k = i - wide
    const dir = join(tree, 'deep', `a${Math.floor(k / 10_000)}`, `b${Math.floor(k / 100) % 100}`)
    if (k % 100 === 0) mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `f${k % 100}`), smallFile(i))
  }
}

async function xeno (args: readonly string[]): Promise<Measurement> {
  return await measure([process.execPath, XENO_BIN, ...args])
}

async function main (): Promise<void> {
  const { values } = parseBenchArgs(USAGE, {
    'big-gib': { type: 'string' }, files: { type: 'string' }, wide: { type: 'string' }, dir: { type: 'string' },
    only: { type: 'string' }, keep: { type: 'boolean' }
  }, 0)
  const bigBytes = Math.round(Number(values['big-gib'] ?? 5) * GIB)
  const files = Number(values.files ?? 100_000)
  const wide = Math.min(files, Number(values.wide ?? 50_000))
  const tools = (values.only ?? 'xeno,casync').split(',')
  if (![bigBytes, files, wide].every((n) => Number.isInteger(n) && n >= 0)) usageError('--big-gib, --files and --wide take non-negative numbers')
  for (const t of tools) if (t !== 'xeno' && t !== 'casync') usageError(`unknown tool ${t}; known: xeno, casync`)

  const environment = settleBenchEnvironment()
  if (environment !== undefined) console.log(environment)
  const work = values.dir ?? await mkdtemp(join(tmpdir(), 'xeno-bench-scale-'))
  const tree = join(work, 'tree')
  try {
    if (!existsSync(tree)) {
      console.error(`scale: generating ${tree} ...`)
      generate(tree, bigBytes, files, wide)
    }
    const size = await treeSize(tree)
    await warmPageCache(tree)
    console.log(`tree ${tree}: ${fmtMB(size.bytes)} in ${fmtCount(size.files)} files, ${fmtCount(size.entries)} entries (one file of ${fmtMB(bigBytes)}, ${fmtCount(wide)} entries in one directory)`)
    console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
    const steps: Step[] = []
    let root: string | undefined
    if (tools.includes('xeno')) {
      const store = join(work, 'xeno-store')
      console.error('scale: xeno template import ...')
      const first = await xeno(['template', 'import', tree, '--store', store, '--json'])
      root = (JSON.parse(first.stdout) as { root: string }).root
      steps.push({ step: 'xeno template import', m: first, storeBytes: (await treeSize(store)).bytes, bytes: size.bytes })
      console.error('scale: xeno template import, again ...')
      const again = await xeno(['template', 'import', tree, '--store', store, '--json'])
      const againRoot = (JSON.parse(again.stdout) as { root: string }).root
      steps.push({ step: 'xeno template import, again', m: again, storeBytes: (await treeSize(store)).bytes, bytes: size.bytes })
      if (againRoot !== root) throw new Error(`the second import gave another root: ${againRoot} (first ${root})`)
      console.error('scale: xeno ls of the wide directory ...')
      const ls = await xeno(['ls', `${root}:/wide`, '--store', store, '--json'])
      steps.push({ step: `xeno ls ROOT:/wide (${fmtCount(wide)} entries)`, m: ls, bytes: 0 })
      const out = join(work, 'export')
      console.error('scale: xeno export ...')
      steps.push({ step: 'xeno export', m: await xeno(['export', root, out, '--store', store, '--json']), bytes: size.bytes })
      console.error('scale: rsync --checksum of the export ...')
      const diff = execFileSync('rsync', ['-aHAXn', '--checksum', '--itemize-changes', `${tree}/`, `${out}/`], { encoding: 'utf8', maxBuffer: 64 * MIB })
      console.log(`export check (rsync -aHAXn --checksum --itemize-changes TREE/ OUT/): ${diff.trim() === '' ? 'identical' : `DIFFERS:\n${diff.split('\n').slice(0, 20).join('\n')}`}`)
      await rm(out, { recursive: true, force: true })
    }
    if (tools.includes('casync')) {
      const store = join(work, 'casync-store')
      mkdirSync(store, { recursive: true })
      console.error('scale: casync make ...')
      const m = await measure(['casync', 'make', `--store=${join(store, 'default.castr')}`, join(store, 'tree.caidx'), tree])
      steps.push({ step: 'casync make', m, storeBytes: (await treeSize(store)).bytes, bytes: size.bytes })
    }
    const xenoImport = steps.find((s) => s.step === 'xeno template import')
    console.log('')
    console.log(renderTable<Step>([
      { header: 'step', cell: (s) => s.step, align: 'left' },
      { header: 'wall', cell: (s) => fmtSeconds(s.m.wallS) },
      { header: 'CPU (user+sys)', cell: (s) => fmtSeconds(cpuSeconds(s.m)) },
      { header: 'MB/s', cell: (s) => s.bytes > 0 ? (s.bytes / 1e6 / s.m.wallS).toFixed(0) : '' },
      { header: 'peak RSS', cell: (s) => fmtMiB(s.m.maxRssBytes) },
      { header: 'store', cell: (s) => s.storeBytes === undefined ? '' : fmtMB(s.storeBytes) },
      { header: 'wall / xeno import', cell: (s) => s.step === 'casync make' ? fmtRatio(s.m.wallS, xenoImport?.m.wallS) : '' }
    ], steps))
    if (root !== undefined) console.log(`  root ${root}`)
    console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  } finally {
    if (values.keep !== true && values.dir === undefined) await rm(work, { recursive: true, force: true })
    else console.log(`kept ${work}`)
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`scale: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
})
