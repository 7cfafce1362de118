import type { KeyObject } from 'node:crypto'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { SeenNames, resolveName } from './client-names.js'
import { configDir, defaultConfigFile, loadConfig, type SyncConfig } from './config.js'
import { Peer } from './http.js'
import { loadKeyFile, type NameRecord } from './names.js'
import { parseRef } from './refs.js'

/** Glue shared by the sync CLI commands (options in, configured objects out). */
type Options = Record<string, string | boolean | Array<string | boolean> | undefined>

const str = (v: unknown): string | undefined => typeof v === 'string' ? v : undefined

/** The client config ($XENO_CONFIG or ~/.config/xeno/config.json; absent = empty). */
export async function clientConfig (options: Options): Promise<SyncConfig> {
  const file = str(options.config)
  return file !== undefined ? await loadConfig(file) : await loadConfig(defaultConfigFile(), true)
}

/** A Peer for `url` with its token: `--<tokenOption>`, else XENO_TOKEN, else the config's `tokens[url]`. */
export function peerFor (url: string, options: Options, config: SyncConfig, tokenOption = 'token'): Peer {
  const origin = url.replace(/\/+$/, '')
  const token = str(options[tokenOption]) ?? process.env.XENO_TOKEN ?? config.tokens?.[origin] ?? config.tokens?.[origin + '/']
  return new Peer(url, { token })
}

/** Default signing key file: ~/.config/xeno/key.pem. */
export function defaultKeyFile (): string { return join(configDir(), 'key.pem') }

/** The signing key: --key, XENO_KEY, the config's `key`, or the default key file. */
export async function signingKey (options: Options, config: SyncConfig): Promise<KeyObject> {
  return await loadKeyFile(str(options.key) ?? process.env.XENO_KEY ?? config.key ?? defaultKeyFile())
}

/** Highest sequence numbers seen, per name (rollback protection across runs). */
export function seenNames (): SeenNames { return new SeenNames(join(configDir(), 'seen-names.json')) }

/**
 * The root a reference names on the peer: a CID form as is; a name resolved there and
 * verified against the config's trust list (and the rollback memory).
 */
export async function resolveRemote (ref: string, peer: Peer, config: SyncConfig, signal?: AbortSignal): Promise<{ root: CID, record?: NameRecord, name?: string }> {
  const parsed = parseRef(ref)
  if (parsed.kind === 'cid') return { root: parsed.cid, name: parsed.name }
  const record = await resolveName(peer, parsed.name, config.trust ?? [], seenNames(), signal)
  const { CID } = await import('multiformats/cid')
  return { root: CID.parse(record.root), record, name: parsed.name }
}
