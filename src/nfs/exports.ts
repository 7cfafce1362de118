import { isIPv4 } from 'node:net'
import type { Caller, Filesystem } from './backend.js'
import { NfsConfigError } from './errors.js'
import { exportIdOf } from './handles.js'
import type { Credentials } from './rpc.js'

/** One exported file-system and who may use it. */
export interface ExportOptions {
  /** The path clients mount, e.g. '/export' (MOUNT dirpath). */
  readonly name: string
  readonly fs: Filesystem
  /**
   * Client addresses allowed to mount and use the export: exact addresses ('10.0.0.2', '::1')
   * or IPv4 CIDR blocks ('127.0.0.0/8'). Every other address is refused at MOUNT and at every
   * NFS call. An empty list allows nobody.
   */
  readonly allow: readonly string[]
  /** Map uid 0 (and gid 0) to the anonymous ids. Default false. */
  readonly rootSquash?: boolean
  /** Default 65534 (nobody / nogroup). */
  readonly anonUid?: number
  readonly anonGid?: number
}

/** Client addresses whose access answer is remembered (the VMs of one server, with room). */
const MAX_REMEMBERED_ADDRESSES = 4096

/** An export with its derived id and access check. */
export class NfsExport {
  readonly name: string
  readonly id: number
  readonly fsid: bigint
  readonly fs: Filesystem
  readonly allow: readonly string[]
  readonly #matchers: Array<(addr: string) => boolean>
  readonly #answers = new Map<string, boolean>()
  readonly #rootSquash: boolean
  readonly #anonUid: number
  readonly #anonGid: number

  constructor (options: ExportOptions) {
    if (!options.name.startsWith('/')) throw new NfsConfigError(`export name must start with '/': ${options.name}`)
    this.name = options.name
    this.id = exportIdOf(options.name)
    this.fsid = BigInt(this.id)
    this.fs = options.fs
    this.allow = [...options.allow]
    this.#matchers = options.allow.map(matcherOf)
    this.#rootSquash = options.rootSquash ?? false
    this.#anonUid = options.anonUid ?? 65534
    this.#anonGid = options.anonGid ?? 65534
  }

  /** True when `address` (as the socket reports it) may use this export. */
  allows (address: string): boolean {
    // Asked on every call: remember the answer per address (a CIDR match parses the address).
    let ok = this.#answers.get(address)
    if (ok === undefined) {
      ok = this.#matchers.some((m) => m(address))
      if (this.#answers.size >= MAX_REMEMBERED_ADDRESSES) this.#answers.clear()
      this.#answers.set(address, ok)
    }
    return ok
  }

  /** The effective caller for `cred`: AUTH_NONE is anonymous; root squash applies. */
  caller (cred: Credentials): Caller {
    if (cred.uid === undefined || cred.gid === undefined) return { uid: this.#anonUid, gid: this.#anonGid, gids: [] }
    if (this.#rootSquash && cred.uid === 0) {
      return { uid: this.#anonUid, gid: this.#anonGid, gids: cred.gids.filter((g) => g !== 0) }
    }
    return { uid: cred.uid, gid: cred.gid, gids: cred.gids }
  }
}

function ipv4ToInt (a: string): number {
  return a.split('.').reduce((acc, p) => ((acc << 8) | Number(p)) >>> 0, 0)
}

function matcherOf (spec: string): (addr: string) => boolean {
  if (spec === '*') return () => true
  const slash = spec.indexOf('/')
  if (slash < 0) return (addr) => addr === spec
  const base = spec.slice(0, slash)
  const bits = Number(spec.slice(slash + 1))
  if (!isIPv4(base) || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    throw new NfsConfigError(`bad allowed address: ${spec} (use an address or an IPv4 CIDR block)`)
  }
  const mask = bits === 0 ? 0 : (0xffff_ffff << (32 - bits)) >>> 0
  const net = (ipv4ToInt(base) & mask) >>> 0
  return (addr) => isIPv4(addr) && ((ipv4ToInt(addr) & mask) >>> 0) === net
}
