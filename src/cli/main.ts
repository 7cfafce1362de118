import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { storeHasPacks } from '../cas/store/pack-files.js'
import { prestartIngestWorkers } from '../overlay/ingest/prestart.js'
import { prestartWalk, releasePrestartedWalk } from '../overlay/ingest/prestart-walk.js'
import { COMMON_OPTIONS, UsageError, type Command, type CommandContext } from './command.js'
import { createProgress } from './progress.js'
import { describeError } from './report-error.js'
import { settleCommandMemory, settleServerMemory } from './server-memory.js'

const COMMANDS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'commands')

/** Default store: $XDG_DATA_HOME/xeno/store or ~/.local/share/xeno/store. */
export function defaultStoreDir (): string {
  const base = process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share')
  return join(base, 'xeno', 'store')
}

function isDirectory (path: string): boolean {
  try { return statSync(path).isDirectory() } catch { return false }
}

function commandNames (): string[] {
  if (!existsSync(COMMANDS_DIR)) return []
  return readdirSync(COMMANDS_DIR).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3)).sort()
}

/** Finds the longest command name matching the leading words (`overlay push` before `overlay`). */
function findCommand (argv: string[]): { name: string, rest: string[] } | undefined {
  const names = new Set(commandNames())
  for (let words = Math.min(3, argv.length); words >= 1; words--) {
    const name = argv.slice(0, words).join('-')
    if (names.has(name)) return { name, rest: argv.slice(words) }
  }
  return undefined
}

async function loadCommand (name: string): Promise<Command> {
  const mod = await import(pathToFileURL(join(COMMANDS_DIR, `${name}.js`)).href) as { default: Command }
  return mod.default
}

async function printOverview (): Promise<void> {
  const lines = ['usage: xeno <command> [options]', '', 'commands:']
  for (const name of commandNames()) {
    const cmd = await loadCommand(name)
    lines.push(`  ${name.replaceAll('-', ' ').padEnd(20)} ${cmd.summary}`)
  }
  lines.push('', 'Every command takes --help, --json and --store DIR (or XENO_STORE); xeno --version prints the version.')
  process.stdout.write(lines.join('\n') + '\n')
}

function helpText (name: string, cmd: Command): string {
  const words = name.replaceAll('-', ' ')
  const opts = Object.entries(cmd.options ?? {}).map(([k, v]) => `  --${k}${v.type === 'string' ? ' VALUE' : ''}`)
  return [`usage: xeno ${words} ${cmd.usage}`, '', cmd.summary, cmd.help !== undefined ? '\n' + cmd.help : '',
    '', 'options:', ...opts, '  --json              machine-readable output on stdout',
    '  --store DIR         local store (default: $XENO_STORE or ' + defaultStoreDir() + ')', '  -h, --help          this help', ''].join('\n')
}

function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString()
    if (v !== null && typeof v === 'object' && typeof (v as { toV1?: unknown }).toV1 === 'function' && '/' in (v as object)) return String(v)
    return v
  }) + '\n')
}

/**
 * A directory import's native threads start walking, reading and compressing SRC now, while
 * this thread loads the command and opens the store (the pool adopts them; a store that has
 * packs is probed, as template-import decides). Only for plain arguments it can read here.
 */
function prestartDirectoryImport (src: string, rest: string[]): void {
  let values: Record<string, unknown>
  try {
    values = parseArgs({ args: rest, options: { store: { type: 'string' }, workers: { type: 'string' } }, allowPositionals: true, strict: false }).values
  } catch { return }
  const workers = values.workers === undefined ? 2 : Number(values.workers)
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= 64)) return
  const storeDir = typeof values.store === 'string' ? values.store : (process.env.XENO_STORE ?? defaultStoreDir())
  let root: string
  try { root = realpathSync(src) } catch { return }
  prestartWalk(root, workers, storeHasPacks(storeDir))
}

/** Servers, which run for days: their memory must stay level. */
const LONG_RUNNING = new Set(['nfs-serve', 'store-serve'])

/**
 * A reader that stops early (`xeno ls ROOT -R | head`) closes the pipe: like ls, end quietly
 * then instead of with an unhandled EPIPE. Nothing is left half done: only a command's
 * output, which comes last or is all it does, goes to stdout. Any other failure to write it
 * (a full disk: `xeno cat ROOT:PATH > FILE`) is one line and exit code 1, not a stack trace.
 */
let quietOnClosedStdout = false
function endQuietlyOnClosedStdout (): void {
  if (quietOnClosedStdout) return // main() may run more than once in a process
  quietOnClosedStdout = true
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    process.stderr.write(`xeno: cannot write the output: ${describeError(err)}\n`)
    process.exit(1)
  })
}

/**
 * The options every command takes may come before the command's name too (`xeno --store DIR
 * ls ROOT`, as `git -C DIR log`): they are moved behind it. Resolves the words left and an
 * error for a leading option that is not one of them (or lacks its value).
 */
export function hoistCommonOptions (argv: readonly string[]): { argv: string[], error?: string } {
  const leading: string[] = []
  let i = 0
  for (; i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '-'; i++) {
    const a = argv[i]!
    if (a === '--json' || a.startsWith('--store=')) leading.push(a)
    else if (a === '--store') {
      const value = argv[i + 1]
      if (value === undefined) return { argv: [], error: '--store needs a directory' }
      leading.push(a, value); i++
    } else if (a === '--help' || a === '-h' || a === '--version' || a === '-V') break
    else return { argv: [], error: `unknown option ${a} before the command (only --store DIR and --json may come first)` }
  }
  if (leading.length === 0) return { argv: [...argv] }
  const rest = argv.slice(i)
  // `xeno --json --version`: the flags stay with the word that reads them.
  if (rest[0] === '--version' || rest[0] === '-V') return { argv: [...rest, ...leading] }
  const found = findCommand(rest)
  if (found === undefined) return { argv: rest }
  // Behind the command's own words and options, but before a `--` that ends its options.
  const end = found.rest.indexOf('--')
  const own = end === -1 ? found.rest : found.rest.slice(0, end)
  const after = end === -1 ? [] : found.rest.slice(end)
  return { argv: [...rest.slice(0, rest.length - found.rest.length), ...own, ...leading, ...after] }
}

/** Runs the CLI; resolves the process exit code. Never throws. */
export async function main (argv: string[]): Promise<number> {
  endQuietlyOnClosedStdout()
  const hoisted = hoistCommonOptions(argv)
  if (hoisted.error !== undefined) {
    process.stderr.write(`xeno: ${hoisted.error}\n`)
    return 2
  }
  argv = hoisted.argv
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    await printOverview()
    return argv.length === 0 ? 2 : 0
  }
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
    process.stdout.write(argv.includes('--json') ? JSON.stringify({ version: pkg.version, node: process.version }) + '\n' : `xeno ${pkg.version} (Node.js ${process.version})\n`)
    return 0
  }
  const found = findCommand(argv)
  if (found === undefined) {
    process.stderr.write(`xeno: unknown command "${argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')}" (see xeno --help)\n`)
    return 2
  }
  if (LONG_RUNNING.has(found.name)) settleServerMemory(); else settleCommandMemory()
  const importing = found.name === 'template-import' && !found.rest.some((a) => a === '--help' || a === '-h')
  if (importing) {
    // A tar import's workers start now and load their modules while this thread loads the
    // command's. A directory import (SRC, the first argument, is a directory) uses native
    // ingest threads, which start at once: prestarted workers would be CPU spent for nothing.
    const src = found.rest[0]
    if (src === undefined || src.startsWith('-') || !isDirectory(src)) prestartIngestWorkers()
    else prestartDirectoryImport(src, found.rest)
  }
  const cmd = await loadCommand(found.name)
  if (importing) {
    // An import is one pass over many small items: V8's optimizing compiler (TurboFan) spent
    // more CPU compiling this thread's code on its background threads than the optimized code
    // saved (t1: ~0.5 s of 3 s; 620 MB t1-openarena: 7.4-8.7 s -> 6.9 s of CPU). Sparkplug's
    // baseline code stays. Set once the command is loaded: changing a V8 flag makes Node's
    // built-in modules compile from source instead of their code cache from then on.
    setFlagsFromString('--no-turbofan')
  }
  const abort = new AbortController()
  const onSignal = (): void => abort.abort(new Error('interrupted'))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let json = false
  try {
    const parsed = parseArgs({ args: found.rest, options: { ...COMMON_OPTIONS, ...cmd.options }, allowPositionals: true, strict: true })
    const options = parsed.values as CommandContext['options']
    if (options.help === true) { process.stdout.write(helpText(found.name, cmd)); return 0 }
    json = options.json === true
    const n = parsed.positionals.length
    if (n < (cmd.minArgs ?? 0) || n > (cmd.maxArgs ?? Infinity)) throw new UsageError('wrong number of arguments')
    const ctx: CommandContext = {
      positionals: parsed.positionals,
      options,
      json,
      storeDir: typeof options.store === 'string' ? options.store : (process.env.XENO_STORE ?? defaultStoreDir()),
      progress: (label, total, unit) => createProgress(label, { total, unit, enabled: !json }),
      say: (line) => { if (!json) process.stdout.write(line + '\n') },
      write: (text) => { process.stdout.write(text) },
      signal: abort.signal
    }
    const result = await cmd.run(ctx)
    if (cmd.streams === true) { /* printed as it ran */ } else if (json) printJson(result ?? {})
    else if (cmd.human !== undefined && result !== undefined) {
      const text = cmd.human(result)
      if (text !== '') process.stdout.write(text.endsWith('\n') ? text : text + '\n')
    }
    return cmd.exitCode?.(result) ?? 0
  } catch (err) {
    const isUsage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true
    const message = describeError(err)
    if (json) process.stdout.write(JSON.stringify({ error: { code: (err as { code?: string }).code ?? 'ERROR', message } }) + '\n')
    process.stderr.write(`xeno ${found.name.replaceAll('-', ' ')}: ${message}\n`)
    if (isUsage) process.stderr.write(`usage: xeno ${found.name.replaceAll('-', ' ')} ${cmd.usage}\n`)
    return isUsage ? 2 : 1
  } finally {
    releasePrestartedWalk()
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
  }
}
