import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { BadConfigError } from './errors.js'
import type { TrustEntry } from './names.js'

/**
 * One JSON config file format for both sides (fields a side does not use are ignored):
 *
 *   {
 *     "tenants": { "acme": { "tokens": [ { "token": "s3cret", "read": ["acme", "Debian"], "write": ["acme"] } ] } },
 *     "public":  ["Debian"],                               name prefixes whose trees every tenant may read
 *     "trust":   [ { "key": "<base64url ed25519>", "names": ["Debian", "acme"] } ],
 *     "limits":  { "maxCidsPerRequest": 65536, "maxMessageBytes": 4194304, "maxCarBytes": 2147483648, "maxBlockBytes": 4194304 },
 *     "key":     "/path/to/signing-key.pem",              client: key used by `name publish` / `push --name`
 *     "tokens":  { "http://127.0.0.1:7000": "s3cret" }    client: token per store URL (else --token / XENO_TOKEN)
 *   }
 *
 * Scopes are name prefixes ("" = everything; "acme" covers "acme/…"). A token needs some write
 * scope to upload blocks and some read scope to ask for blocks.
 */
export interface SyncConfig {
  readonly tenants?: Readonly<Record<string, { readonly tokens: readonly TokenSpec[] }>>
  readonly public?: readonly string[]
  readonly trust?: readonly TrustEntry[]
  readonly limits?: Partial<SyncLimits>
  readonly key?: string
  readonly tokens?: Readonly<Record<string, string>>
}

export interface TokenSpec { readonly token: string, readonly read: readonly string[], readonly write: readonly string[] }

export interface SyncLimits {
  readonly maxCidsPerRequest: number
  readonly maxMessageBytes: number
  readonly maxCarBytes: number
  readonly maxBlockBytes: number
}

const TENANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

function fail (file: string, why: string): never { throw new BadConfigError(`config ${file}: ${why}`) }

function isStrings (v: unknown): v is string[] { return Array.isArray(v) && v.every((x) => typeof x === 'string') }

/** Validates a parsed config; `file` names it in errors. Throws BadConfigError. */
export function validateConfig (value: unknown, file = '(inline)'): SyncConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(file, 'not a JSON object')
  const c = value as Record<string, unknown>
  if (c.tenants !== undefined) {
    if (typeof c.tenants !== 'object' || c.tenants === null) fail(file, '"tenants" must be an object')
    for (const [name, t] of Object.entries(c.tenants)) {
      if (!TENANT_RE.test(name)) fail(file, `bad tenant name "${name}"`)
      const tokens = (t as { tokens?: unknown })?.tokens
      if (!Array.isArray(tokens)) fail(file, `tenant "${name}" needs a "tokens" list`)
      for (const tok of tokens) {
        if (typeof tok?.token !== 'string' || tok.token.length < 8) fail(file, `tenant "${name}": every token needs a "token" of at least 8 characters`)
        if (!isStrings(tok.read) || !isStrings(tok.write)) fail(file, `tenant "${name}": "read" and "write" must be lists of name prefixes`)
      }
    }
  }
  if (c.public !== undefined && !isStrings(c.public)) fail(file, '"public" must be a list of name prefixes')
  if (c.trust !== undefined) {
    if (!Array.isArray(c.trust)) fail(file, '"trust" must be a list')
    for (const t of c.trust) if (typeof t?.key !== 'string' || !isStrings(t.names)) fail(file, 'each "trust" entry needs "key" and "names"')
  }
  if (c.limits !== undefined) {
    for (const [k, v] of Object.entries(c.limits as object)) if (!Number.isSafeInteger(v) || (v as number) <= 0) fail(file, `limit "${k}" must be a positive integer`)
  }
  if (c.key !== undefined && typeof c.key !== 'string') fail(file, '"key" must be a path')
  if (c.tokens !== undefined && (typeof c.tokens !== 'object' || c.tokens === null)) fail(file, '"tokens" must map URLs to tokens')
  return c as SyncConfig
}

/** Reads and validates a config file. A missing file is an error unless `optional`, which resolves `{}`. */
export async function loadConfig (file: string, optional = false): Promise<SyncConfig> {
  let text: string
  try { text = await readFile(file, 'utf8') } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new BadConfigError(`cannot read config ${file}`, { cause: err })
  }
  let value: unknown
  try { value = JSON.parse(text) } catch (err) { throw new BadConfigError(`config ${file} is not valid JSON`, { cause: err }) }
  return validateConfig(value, file)
}

/** The client's config directory: $XDG_CONFIG_HOME/xeno or ~/.config/xeno. */
export function configDir (): string {
  return join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'xeno')
}

/** The client's config file: $XENO_CONFIG, else config.json in configDir(). */
export function defaultConfigFile (): string {
  return process.env.XENO_CONFIG ?? join(configDir(), 'config.json')
}
