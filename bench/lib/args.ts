/**
 * Command-line arguments of the bench scripts: `--help` (or `-h`) prints the script's usage
 * text and exits 0; an unknown option, a missing option value or too many arguments print
 * one line (`<script>: <what is wrong> (see --help)`) and exit 2, never a stack trace.
 */
import { basename } from 'node:path'
import { parseArgs } from 'node:util'

/** An option a bench script takes: a string value (`--name VALUE`) or a flag. */
export interface BenchOption { readonly type: 'string' | 'boolean', readonly short?: string }
type Values<O extends Record<string, BenchOption>> = { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string }

/** Prints `<script>: <message> (see --help)` and exits 2 (a bad argument value). */
export function usageError (message: string): never {
  const script = basename(process.argv[1] ?? 'bench').replace(/\.js$/, '')
  process.stderr.write(`${script}: ${message} (see --help)\n`)
  process.exit(2)
}

/**
 * Parses `argv` (default: the script's arguments) against `options`; at most `maxPositionals`
 * positional arguments. Exits the process on --help and on a usage error.
 */
export function parseBenchArgs<O extends Record<string, BenchOption>> (
  usage: string, options: O, maxPositionals = Infinity, argv: string[] = process.argv.slice(2)
): { values: Values<O>, positionals: string[] } {
  const fail = usageError
  const end = argv.indexOf('--')
  const flags = end === -1 ? argv : argv.slice(0, end)
  if (flags.includes('--help') || flags.includes('-h')) {
    process.stdout.write(usage.endsWith('\n') ? usage : usage + '\n')
    process.exit(0)
  }
  let parsed: { values: Record<string, unknown>, positionals: string[] } = { values: {}, positionals: [] }
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === undefined || !code.startsWith('ERR_PARSE_ARGS')) throw err
    // Node's message suggests `--` for positionals that start with '-': keep the first sentence.
    fail((err as Error).message.split('. To specify')[0])
  }
  if (parsed.positionals.length > maxPositionals) fail(`too many arguments: ${parsed.positionals.slice(maxPositionals).join(' ')}`)
  return { values: parsed.values as Values<O>, positionals: parsed.positionals }
}
