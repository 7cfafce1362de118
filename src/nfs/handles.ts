import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { NodeId } from './backend.js'
import { BadHandleError, StaleHandleError } from './errors.js'

/**
 * File handles (nfs_fh3, RFC 1813 §2.5: at most 64 bytes, opaque to clients):
 *
 *   version u8 (1) | export id u32 | node id u64 | MAC 16 bytes = 29 bytes
 *
 * The MAC is HMAC-SHA256 (truncated to 128 bits) of the first 13 bytes, keyed by a server secret
 * kept in the state directory, so handles survive restarts and cannot be forged. A handle
 * that fails the MAC is BADHANDLE; a valid handle of another export is STALE.
 */
const VERSION = 1
const BODY_BYTES = 13
const MAC_BYTES = 16
export const HANDLE_BYTES = BODY_BYTES + MAC_BYTES
const SECRET_FILE = 'handle-secret'
const SECRET_BYTES = 32

/** Default bound of the handles whose MAC was computed or checked recently (per map). */
export const DEFAULT_REMEMBERED_HANDLES = 65_536

/** The 32-bit export id of an export name (stable: derived from the name only). */
export function exportIdOf (name: string): number {
  return createHash('sha256').update(name).digest().readUInt32BE(0)
}

/** Encodes and verifies file handles with one server secret. */
export class HandleCodec {
  readonly #secret: Buffer
  // MACs cost ~2 µs each; a READDIRPLUS of 1000 entries or a busy client repeats them.
  // Keyed by export id, then node id: no key string to build and hash per handle.
  readonly #encoded = new Map<number, Map<NodeId, Uint8Array>>()
  readonly #decoded = new Map<string, NodeId>()
  /** Handles remembered per map (encoded per export, and decoded). */
  readonly #maxRemembered: number

  constructor (secret: Uint8Array, maxRemembered = DEFAULT_REMEMBERED_HANDLES) {
    if (secret.length < 16) throw new RangeError('handle secret must be at least 16 bytes')
    if (!(Number.isInteger(maxRemembered) && maxRemembered >= 1)) throw new RangeError('maxRemembered must be a whole number >= 1')
    this.#secret = Buffer.from(secret)
    this.#maxRemembered = maxRemembered
  }

  /**
   * Loads the secret from `<stateDir>/handle-secret`, creating it (random, mode 0600, written
   * atomically) the first time. Handles stay valid as long as this file does.
   */
  static async open (stateDir: string, maxRemembered?: number): Promise<HandleCodec> {
    const file = join(stateDir, SECRET_FILE)
    await mkdir(stateDir, { recursive: true })
    try {
      return new HandleCodec(await readFile(file), maxRemembered)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const tmp = `${file}.${process.pid}.tmp`
    await writeFile(tmp, randomBytes(SECRET_BYTES), { mode: 0o600, flag: 'wx' })
    await rename(tmp, file)
    return new HandleCodec(await readFile(file), maxRemembered)
  }

  #mac (body: Uint8Array): Buffer {
    return createHmac('sha256', this.#secret).update(body).digest().subarray(0, MAC_BYTES)
  }

  /**
   * The handle of node `id` in export `exportId`. The array is shared with the codec's cache
   * (READDIRPLUS encodes a handle per entry; a copy each cost more than the lookup): callers
   * write it out and must not modify it.
   */
  encode (exportId: number, id: NodeId): Uint8Array {
    let encoded = this.#encoded.get(exportId)
    if (encoded === undefined) this.#encoded.set(exportId, encoded = new Map())
    const known = encoded.get(id)
    if (known !== undefined) return known
    const out = Buffer.alloc(HANDLE_BYTES)
    out.writeUInt8(VERSION, 0)
    out.writeUInt32BE(exportId >>> 0, 1)
    out.writeBigUInt64BE(id, 5)
    this.#mac(out.subarray(0, BODY_BYTES)).copy(out, BODY_BYTES)
    const fh = new Uint8Array(out)
    remember(encoded, id, fh, this.#maxRemembered)
    return fh
  }

  /**
   * The node id in `fh`. Throws BadHandleError when the length, version or MAC is wrong, and
   * StaleHandleError when the handle is genuine but names another export.
   */
  decode (fh: Uint8Array, exportId: number): NodeId {
    if (fh.length !== HANDLE_BYTES || fh[0] !== VERSION) throw new BadHandleError()
    const b = Buffer.from(fh.buffer, fh.byteOffset, fh.length)
    const key = b.toString('latin1')
    const known = this.#decoded.get(key)
    if (known === undefined) {
      if (!timingSafeEqual(this.#mac(b.subarray(0, BODY_BYTES)), b.subarray(BODY_BYTES))) throw new BadHandleError()
      remember(this.#decoded, key, b.readBigUInt64BE(5), this.#maxRemembered)
    }
    if (b.readUInt32BE(1) !== exportId >>> 0) throw new StaleHandleError('file handle belongs to another export')
    return b.readBigUInt64BE(5)
  }
}

function remember<K, V> (map: Map<K, V>, key: K, value: V, max: number): void {
  map.set(key, value)
  if (map.size > max) map.delete(map.keys().next().value as K)
}
