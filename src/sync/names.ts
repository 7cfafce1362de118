import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { CID } from 'multiformats/cid'
import { BadConfigError, BadRequestError, BadSignatureError } from './errors.js'

/**
 * Signed name records: a mutable name (`Debian/12/current`, `acme/web`) pointing at an
 * immutable root CID. Ed25519 (node:crypto, native). The signature covers the JSON array
 * ["xeno-name-v1", name, root, seq, prev, time, key], so field order and spelling are fixed.
 * `seq` rises by at least one per update and `prev` names the root it replaces, so a resolver
 * that remembers the highest `seq` it saw refuses rollbacks and replays.
 */
export interface NameRecord {
  readonly v: 1
  readonly name: string
  /** Root CID (string form). */
  readonly root: string
  readonly seq: number
  /** The root this record replaces (null for the first). */
  readonly prev: string | null
  /** ISO 8601 time of signing. */
  readonly time: string
  /** Ed25519 public key of the signer, raw 32 bytes in base64url. */
  readonly key: string
  /** Ed25519 signature in base64url. */
  readonly sig: string
}

/** One trusted key and the name prefixes it may sign ("" = every name). */
export interface TrustEntry { readonly key: string, readonly names: readonly string[] }

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/

/** True for a well-formed name: `/`-separated segments of [A-Za-z0-9._-], each starting with an alphanumeric, ≤ 255 bytes. */
export function isValidName (name: unknown): name is string {
  return typeof name === 'string' && name.length <= 255 && NAME_RE.test(name)
}

/** True when `name` is `prefix` itself or lies below it ("" covers every name; "acme" covers "acme/x", not "acmex"). */
export function nameInPrefix (name: string, prefix: string): boolean {
  if (prefix === '' || name === prefix) return true
  return name.startsWith(prefix.endsWith('/') ? prefix : prefix + '/')
}

function payload (r: Omit<NameRecord, 'sig' | 'v'>): Buffer {
  return Buffer.from(JSON.stringify(['xeno-name-v1', r.name, r.root, r.seq, r.prev, r.time, r.key]), 'utf8')
}

/** Public key (base64url raw) of a private or public key object. */
export function publicKeyString (key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  const jwk = pub.export({ format: 'jwk' })
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new BadConfigError('not an Ed25519 key')
  return jwk.x
}

function publicKeyFrom (key: string): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key }, format: 'jwk' })
}

/** Signs a record. `time` defaults to now. Throws TypeError on a bad name or CID. */
export function signRecord (fields: { name: string, root: CID | string, seq: number, prev: CID | string | null, time?: string }, privateKey: KeyObject): NameRecord {
  if (!isValidName(fields.name)) throw new TypeError(`bad name ${JSON.stringify(fields.name)}`)
  if (!Number.isSafeInteger(fields.seq) || fields.seq < 1) throw new TypeError('seq must be a positive integer')
  const body = {
    name: fields.name,
    root: CID.parse(String(fields.root)).toString(),
    seq: fields.seq,
    prev: fields.prev === null ? null : CID.parse(String(fields.prev)).toString(),
    time: fields.time ?? new Date().toISOString(),
    key: publicKeyString(privateKey)
  }
  return { v: 1, ...body, sig: sign(null, payload(body), privateKey).toString('base64url') }
}

/**
 * Checks the shape of `value` and its signature against the key it names. Returns the record
 * (normalised copy). Throws BadRequestError on a malformed record, BadSignatureError on a bad
 * signature. Whether the key is *trusted* is the caller's question (isTrusted).
 */
export function verifyRecord (value: unknown): NameRecord {
  if (typeof value !== 'object' || value === null) throw new BadRequestError('name record is not an object')
  const r = value as Record<string, unknown>
  if (r.v !== 1 || !isValidName(r.name) || typeof r.root !== 'string' || !Number.isSafeInteger(r.seq) || (r.seq as number) < 1 ||
    (r.prev !== null && typeof r.prev !== 'string') || typeof r.time !== 'string' || typeof r.key !== 'string' || typeof r.sig !== 'string') {
    throw new BadRequestError('malformed name record')
  }
  try { CID.parse(r.root); if (r.prev !== null) CID.parse(r.prev as string) } catch (err) { throw new BadRequestError('name record has a bad CID', { cause: err }) }
  const record: NameRecord = { v: 1, name: r.name, root: r.root, seq: r.seq as number, prev: r.prev as string | null, time: r.time, key: r.key, sig: r.sig }
  let ok = false
  try { ok = verify(null, payload(record), publicKeyFrom(record.key), Buffer.from(record.sig, 'base64url')) } catch { ok = false }
  if (!ok) throw new BadSignatureError(`signature of name record "${record.name}" does not verify`)
  return record
}

/** True when some entry of `trust` holds `key` for a prefix covering `name`. */
export function isTrusted (trust: readonly TrustEntry[], key: string, name: string): boolean {
  return trust.some((t) => t.key === key && t.names.some((p) => nameInPrefix(name, p)))
}

/** Creates a new Ed25519 key, writes it (PKCS#8 PEM, mode 0600) to `file`; resolves its public key. Refuses to overwrite. */
export async function generateKeyFile (file: string): Promise<string> {
  const { privateKey } = generateKeyPairSync('ed25519')
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' })
  return publicKeyString(privateKey)
}

/** Loads a private key written by generateKeyFile. Throws BadConfigError. */
export async function loadKeyFile (file: string): Promise<KeyObject> {
  let pem: string
  try { pem = await readFile(file, 'utf8') } catch (err) { throw new BadConfigError(`cannot read key file ${file} (create one with \`xeno key generate\`)`, { cause: err }) }
  try {
    const key = createPrivateKey(pem)
    publicKeyString(key)
    return key
  } catch (err) { throw new BadConfigError(`${file} is not an Ed25519 private key`, { cause: err }) }
}
