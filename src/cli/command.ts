import type { ParseArgsConfig } from 'node:util'
import type { Progress } from './progress.js'

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  store: { type: 'string' }
} as const

export type OptionSpec = NonNullable<ParseArgsConfig['options']>
export type OptionValues = Record<string, string | boolean | Array<string | boolean> | undefined>

/** What a command gets to run with; all I/O with the user goes through here. */
export interface CommandContext {
  readonly positionals: string[]
  readonly options: OptionValues
  readonly json: boolean
  /** The local store directory (--store, XENO_STORE, or the default under the home directory). */
  readonly storeDir: string
  /** A progress bar on stderr when it is a terminal and --json is off; silent otherwise. */
  progress (label: string, total?: number, unit?: 'bytes' | 'items'): Progress
  /** A human-readable line on stdout (suppressed with --json). */
  say (line: string): void
  /** Text on stdout as it is, --json or not (for a command that `streams` its output). */
  write (text: string): void
  readonly signal: AbortSignal
}

/**
 * One `xeno` command, in src/cli/commands/<words-joined-by-dashes>.ts as its default export
 * (`xeno template import` lives in template-import.ts). `run` returns the result object that
 * `--json` prints; `human` renders it for people (optional: `say` may have been used instead).
 */
export interface Command {
  readonly summary: string
  /** The usage line(s) after `xeno <name> `, e.g. `SRC [--name NAME]`. */
  readonly usage: string
  /** Extra help text: what it does, each option. */
  readonly help?: string
  readonly options?: OptionSpec
  /** Bounds on positional arguments. */
  readonly minArgs?: number
  readonly maxArgs?: number
  run (ctx: CommandContext): Promise<unknown>
  human? (result: any): string
  /**
   * The command writes its whole output itself, as it goes (ctx.write), JSON included: a long
   * listing is never held in memory (`run` then returns nothing to print).
   */
  readonly streams?: boolean
  /** Exit status for a result that was printed (default 0), e.g. 1 when fsck leaves problems. */
  exitCode? (result: any): number
}

/** Thrown for wrong usage: printed with the command's usage line and exit code 2. */
export class UsageError extends Error {
  readonly code = 'CLI_USAGE'
}

/** Option value as string, or undefined. Throws UsageError for repeated-by-mistake options. */
export function stringOption (options: OptionValues, name: string): string | undefined {
  const v = options[name]
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw new UsageError(`--${name} takes a value`)
  return v
}

/** A repeatable string option (declared with `multiple: true`) as an array. */
export function stringsOption (options: OptionValues, name: string): string[] {
  const v = options[name]
  if (v === undefined) return []
  return (Array.isArray(v) ? v : [v]).map(String)
}

/** Bounds of a numeric option: at least `min`, at most `max`, a whole number when `integer`. */
export interface NumberBounds { readonly min: number, readonly max?: number, readonly integer?: boolean }

/**
 * `--name`'s value as a number within `bounds`, or `fallback` when it is not given. Anything
 * else is a UsageError saying `--name takes WHAT` (`what`: e.g. "a number of MiB").
 */
export function numberOption (options: OptionValues, name: string, what: string, bounds: NumberBounds, fallback: number): number
export function numberOption (options: OptionValues, name: string, what: string, bounds: NumberBounds): number | undefined
export function numberOption (options: OptionValues, name: string, what: string, bounds: NumberBounds, fallback?: number): number | undefined {
  const text = stringOption(options, name)
  if (text === undefined) return fallback
  const n = Number(text)
  if (!(n >= bounds.min && n <= (bounds.max ?? Infinity)) || (bounds.integer === true && !Number.isInteger(n))) throw new UsageError(`--${name} takes ${what}`)
  return n
}

/** A port number given as `--name`'s value (0: any free port), or undefined when not given. */
export function portOption (text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (text === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name} takes a port number (0-65535), not "${text}"`)
  return n
}

/** `--listen HOST:PORT` (an IPv6 host in brackets); the port as portOption takes it. */
export function parseListen (text: string): { host: string, port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):([^:]+)$/.exec(text)
  if (m === null) throw new UsageError(`--listen takes HOST:PORT, not "${text}"`)
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: portOption(m[2], 'listen')! }
}
