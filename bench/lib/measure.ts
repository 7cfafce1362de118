import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** What one run of an external command cost. Times in seconds, memory in bytes. */
export interface Measurement {
  /** Wall-clock time of the command (from spawn to exit, measured here with hrtime). */
  readonly wallS: number
  /** User CPU time of the command and all its children (GNU time %U). */
  readonly userS: number
  /** System CPU time of the command and all its children (GNU time %S). */
  readonly sysS: number
  /** Peak resident set size of the largest single process in the tree (GNU time %M, KiB → bytes). */
  readonly maxRssBytes: number
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/** CPU time = user + sys. */
export function cpuSeconds (m: Pick<Measurement, 'userS' | 'sysS'>): number {
  return m.userS + m.sysS
}

export interface RunOptions {
  cwd?: string
  /** Extra environment variables, merged over process.env. */
  env?: Record<string, string>
  /** Bytes written to the command's stdin (stdin is /dev/null otherwise). */
  input?: Uint8Array | string
  /** Reject when the command exits non-zero (default true). */
  check?: boolean
}

export const GNU_TIME = '/usr/bin/time'

/** Thrown by `measure` when the command fails and `check` is on. */
export class CommandFailedError extends Error {
  readonly code = 'BENCH_COMMAND_FAILED'
  constructor (readonly argv: readonly string[], readonly exitCode: number, readonly stderr: string) {
    super(`${argv.join(' ')} exited with ${exitCode}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`)
    this.name = 'CommandFailedError'
  }
}

/**
 * Runs `argv` under GNU time (`/usr/bin/time -f '%U %S %M' -o FILE`, so the figures never mix
 * with the command's own stderr) and returns its wall time, CPU time and peak RSS. Stdout and
 * stderr are collected in memory: for commands with small output only. The peak RSS is that of
 * the biggest single process (what wait4's ru_maxrss reports), not the sum over a tree.
 */
export async function measure (argv: readonly string[], options: RunOptions = {}): Promise<Measurement> {
  if (argv.length === 0) throw new TypeError('measure: empty argv')
  const dir = await mkdtemp(join(tmpdir(), 'xeno-bench-time-'))
  const timeFile = join(dir, 'time')
  try {
    const child = spawn(GNU_TIME, ['-f', '%U %S %M', '-o', timeFile, '--', ...argv], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']
    })
    const start = process.hrtime.bigint()
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout?.on('data', (b: Buffer) => out.push(b))
    child.stderr?.on('data', (b: Buffer) => err.push(b))
    if (options.input !== undefined) child.stdin?.end(options.input)
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (code, signal) => resolve(code ?? (signal !== null ? 128 : 1)))
    })
    const wallS = Number(process.hrtime.bigint() - start) / 1e9
    const stdout = Buffer.concat(out).toString()
    const stderr = Buffer.concat(err).toString()
    if (exitCode !== 0 && options.check !== false) throw new CommandFailedError(argv, exitCode, stderr)
    const figures = parseTimeOutput(await readFile(timeFile, 'utf8'))
    return { wallS, ...figures, exitCode, stdout, stderr }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Parses the last line of GNU time output in the format '%U %S %M'. */
export function parseTimeOutput (text: string): { userS: number, sysS: number, maxRssBytes: number } {
  // GNU time prefixes "Command exited with non-zero status N" on failure: take the last line.
  const line = text.trim().split('\n').at(-1) ?? ''
  const [user, sys, rss] = line.trim().split(/\s+/).map(Number)
  if (![user, sys, rss].every((x) => Number.isFinite(x))) throw new Error(`cannot parse GNU time output: ${JSON.stringify(text)}`)
  return { userS: user, sysS: sys, maxRssBytes: rss * 1024 }
}

/** What an in-process piece of work cost: wall and CPU time of this process while it ran. */
export interface InProcessMeasurement<T> {
  readonly wallS: number
  readonly userS: number
  readonly sysS: number
  readonly value: T
}

/**
 * Times `fn` in this process (process.cpuUsage covers every thread of the process, so
 * libuv-pool and native worker threads count too).
 */
export async function measureInProcess<T> (fn: () => Promise<T> | T): Promise<InProcessMeasurement<T>> {
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const value = await fn()
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  return { wallS, userS: cpu.user / 1e6, sysS: cpu.system / 1e6, value }
}
