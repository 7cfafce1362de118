import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { KeyObject } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { PeerRejectedError, RollbackError, UntrustedKeyError } from './errors.js'
import type { Peer } from './http.js'
import { isTrusted, signRecord, verifyRecord, type NameRecord, type TrustEntry } from './names.js'
import { ROUTES } from './protocol.js'

/**
 * The highest sequence number seen per name, kept in a JSON file so a resolver refuses a
 * record older than one it already followed (rollback), even from another store.
 */
export class SeenNames {
  readonly #file: string
  #map: Record<string, number> | undefined
  constructor (file: string) { this.#file = file }

  async get (name: string): Promise<number> {
    this.#map ??= await readFile(this.#file, 'utf8').then((t) => JSON.parse(t) as Record<string, number>, () => ({}))
    return this.#map[name] ?? 0
  }

  /** Records `seq` for `name` (atomically: temp file + rename). */
  async set (name: string, seq: number): Promise<void> {
    await this.get(name)
    if (this.#map === undefined) return
    this.#map[name] = seq
    await mkdir(dirname(this.#file), { recursive: true })
    await writeFile(this.#file + '.tmp', JSON.stringify(this.#map, null, 1))
    await rename(this.#file + '.tmp', this.#file)
  }
}

const namePath = (name: string): string => `${ROUTES.names}/${name.split('/').map(encodeURIComponent).join('/')}`

/** The record of `name` on the peer, unverified; undefined when the peer has none. */
export async function fetchRecord (peer: Peer, name: string, signal?: AbortSignal): Promise<unknown> {
  try { return await peer.fetchJson('GET', namePath(name), undefined, signal) } catch (err) {
    if (err instanceof PeerRejectedError && err.remoteCode === 'SYNC_NOT_FOUND') return undefined
    throw err
  }
}

/**
 * Resolves `name` on the peer to a verified record: the signature must verify, the key must be
 * in `trust` for that name (UntrustedKeyError), and its seq must not be below the highest seen
 * (RollbackError). Rejects PeerRejectedError SYNC_NOT_FOUND when the peer has no such name.
 */
export async function resolveName (peer: Peer, name: string, trust: readonly TrustEntry[], seen?: SeenNames, signal?: AbortSignal): Promise<NameRecord> {
  const raw = await peer.fetchJson('GET', namePath(name), undefined, signal)
  const record = verifyRecord(raw)
  if (record.name !== name) throw new UntrustedKeyError(`store answered "${name}" with a record for "${record.name}"`)
  if (!isTrusted(trust, record.key, name)) throw new UntrustedKeyError(`"${name}" is signed by key ${record.key}, which the trust list does not hold for that name`)
  if (seen !== undefined) {
    const last = await seen.get(name)
    if (record.seq < last) throw new RollbackError(`"${name}" is at seq ${record.seq} on this store, below seq ${last} seen before (rollback refused)`)
    if (record.seq > last) await seen.set(name, record.seq)
  }
  return record
}

/**
 * Publishes `name` -> `root` on the peer, signed with `key`: seq one above the peer's current
 * record and prev its root. Resolves the stored record. The peer refuses (PeerRejectedError)
 * when the tree is incomplete there, the key is untrusted, or another publish won the race.
 */
export async function publishName (peer: Peer, name: string, root: CID, key: KeyObject, signal?: AbortSignal): Promise<NameRecord> {
  const current = await fetchRecord(peer, name, signal)
  let seq = 1
  let prev: string | null = null
  if (current !== undefined) {
    const r = verifyRecord(current)
    if (r.root === root.toString()) return r
    seq = r.seq + 1
    prev = r.root
  }
  return await putRecord(peer, signRecord({ name, root, seq, prev }, key), signal)
}

/** Stores an already signed record on the peer (replication); resolves what the peer holds. */
export async function putRecord (peer: Peer, record: NameRecord, signal?: AbortSignal): Promise<NameRecord> {
  return verifyRecord(await peer.fetchJson('PUT', namePath(record.name), record, signal))
}

/** Records on the peer whose names lie under `prefix` (unverified: verify before use). */
export async function listNames (peer: Peer, prefix = '', signal?: AbortSignal): Promise<unknown[]> {
  const q = prefix === '' ? '' : `?prefix=${encodeURIComponent(prefix)}`
  const answer = await peer.fetchJson('GET', `${ROUTES.names}${q}`, undefined, signal) as { names?: unknown[] }
  return Array.isArray(answer.names) ? answer.names : []
}

