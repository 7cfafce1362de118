import { XdrError } from './errors.js'
import { XdrReader, XdrWriter } from './xdr.js'

/** ONC RPC version 2 message headers, RFC 5531 §9 (messages) and §8 / Appendix A (AUTH_SYS). */

export const RPC_VERSION = 2
export const msg_type = { CALL: 0, REPLY: 1 } as const
export const reply_stat = { MSG_ACCEPTED: 0, MSG_DENIED: 1 } as const
export const accept_stat = {
  SUCCESS: 0, PROG_UNAVAIL: 1, PROG_MISMATCH: 2, PROC_UNAVAIL: 3, GARBAGE_ARGS: 4, SYSTEM_ERR: 5
} as const
export const reject_stat = { RPC_MISMATCH: 0, AUTH_ERROR: 1 } as const
export const auth_stat = {
  AUTH_OK: 0, AUTH_BADCRED: 1, AUTH_REJECTEDCRED: 2, AUTH_BADVERF: 3, AUTH_REJECTEDVERF: 4,
  AUTH_TOOWEAK: 5, AUTH_INVALIDRESP: 6, AUTH_FAILED: 7
} as const
export type AuthStat = typeof auth_stat[keyof typeof auth_stat]
export const auth_flavor = { AUTH_NONE: 0, AUTH_SYS: 1, AUTH_SHORT: 2, AUTH_DH: 3, RPCSEC_GSS: 6 } as const

/** opaque_auth body bound (RFC 5531 §8.2). */
export const MAX_AUTH_BYTES = 400
/** authsys_parms bounds (RFC 5531 Appendix A). */
const MAX_MACHINE_NAME = 255
const MAX_GIDS = 16

/** The caller's identity: AUTH_SYS values, or `undefined` uid/gid for AUTH_NONE. */
export interface Credentials {
  readonly flavor: number
  readonly uid?: number
  readonly gid?: number
  readonly gids: readonly number[]
  readonly machineName?: string
  /** uid, gid and gids as one string, for results kept per caller ('' for AUTH_NONE). */
  readonly key: string
}

/** A decoded call header; `args` is positioned at the procedure's arguments. */
export interface CallHeader {
  readonly xid: number
  readonly prog: number
  readonly vers: number
  readonly proc: number
  readonly cred: Credentials
  readonly args: XdrReader
}

/** What decoding a call header can yield besides a call. */
export type DecodedCall =
  | { kind: 'call', call: CallHeader }
  | { kind: 'rpc-mismatch', xid: number }
  | { kind: 'auth-error', xid: number, stat: AuthStat }
  | { kind: 'not-a-call' }

/**
 * Decodes an RPC call header (RFC 5531 §9). Throws XdrError when the header itself is
 * truncated (no reply is possible without a full header, except that `xid` may be known:
 * see `peekXid`). Credentials that are not AUTH_NONE or AUTH_SYS, or a malformed AUTH_SYS
 * body, yield an `auth-error` (AUTH_BADCRED); an RPC version other than 2 yields `rpc-mismatch`.
 */
export function decodeCall (bytes: Uint8Array): DecodedCall {
  const r = new XdrReader(bytes)
  const xid = r.uint32()
  if (r.uint32() !== msg_type.CALL) return { kind: 'not-a-call' }
  if (r.uint32() !== RPC_VERSION) return { kind: 'rpc-mismatch', xid }
  const prog = r.uint32()
  const vers = r.uint32()
  const proc = r.uint32()
  const flavor = r.uint32()
  const body = r.opaque(MAX_AUTH_BYTES)
  const verfFlavor = r.uint32()
  r.opaque(MAX_AUTH_BYTES)
  if (verfFlavor !== auth_flavor.AUTH_NONE) return { kind: 'auth-error', xid, stat: auth_stat.AUTH_BADVERF }
  const cred = decodeCredentials(flavor, body)
  if (cred === undefined) return { kind: 'auth-error', xid, stat: auth_stat.AUTH_BADCRED }
  return { kind: 'call', call: { xid, prog, vers, proc, cred, args: r } }
}

/** One decoder for every call: constructing a TextDecoder costs more than the decode. */
const machineNameDecoder = new TextDecoder()
const NO_CREDENTIALS: Credentials = Object.freeze({ flavor: auth_flavor.AUTH_NONE, gids: Object.freeze([]), key: '' })
/**
 * The last AUTH_SYS credentials decoded, and their bytes after the stamp: a client sends the
 * same ones in every call, so they are compared instead of decoded again (Credentials are
 * immutable, so the object is shared).
 */
let lastBody = new Uint8Array(0)
let lastCred: Credentials | undefined

function decodeCredentials (flavor: number, body: Uint8Array): Credentials | undefined {
  if (flavor === auth_flavor.AUTH_NONE) return NO_CREDENTIALS
  if (flavor !== auth_flavor.AUTH_SYS) return undefined
  if (lastCred !== undefined && body.length === lastBody.length + 4) {
    let same = true
    for (let i = 4; i < body.length && same; i++) same = body[i] === lastBody[i - 4]
    if (same) return lastCred
  }
  try {
    const r = new XdrReader(body)
    r.uint32() // stamp
    const machineName = machineNameDecoder.decode(r.opaque(MAX_MACHINE_NAME))
    const uid = r.uint32()
    const gid = r.uint32()
    const n = r.uint32()
    if (n > MAX_GIDS) return undefined
    const gids: number[] = []
    for (let i = 0; i < n; i++) gids.push(r.uint32())
    r.end()
    lastCred = Object.freeze({ flavor, uid, gid, gids: Object.freeze(gids), machineName, key: `${uid}:${gid}:${gids.join(',')}` })
    lastBody = body.slice(4)
    return lastCred
  } catch (err) {
    if (err instanceof XdrError) return undefined
    throw err
  }
}

/** The xid of a message if at least 4 bytes are present. */
export function peekXid (bytes: Uint8Array): number | undefined {
  if (bytes.length < 4) return undefined
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false)
}

/**
 * A writer for a reply message. Its first 4 bytes are reserved for the TCP
 * record mark (RFC 5531 §11), which the server fills in when it sends the reply, so a small
 * reply goes out as the writer's own buffer; the message itself follows them.
 */
export function replyWriter (): XdrWriter {
  return new XdrWriter().uint32(0)
}

/** Encodes a MSG_ACCEPTED reply header with a null verifier into a replyWriter; the caller appends the body. */
export function acceptedReply (xid: number, stat: number): XdrWriter {
  return replyWriter().uint32(xid).uint32(msg_type.REPLY).uint32(reply_stat.MSG_ACCEPTED)
    .uint32(auth_flavor.AUTH_NONE).uint32(0).uint32(stat)
}

/** PROG_MISMATCH reply (a replyWriter) with the supported version range (RFC 5531 §9). */
export function progMismatchReply (xid: number, low: number, high: number): XdrWriter {
  return acceptedReply(xid, accept_stat.PROG_MISMATCH).uint32(low).uint32(high)
}

/** MSG_DENIED / RPC_MISMATCH reply (a replyWriter): only version 2 is supported. */
export function rpcMismatchReply (xid: number): XdrWriter {
  return replyWriter().uint32(xid).uint32(msg_type.REPLY).uint32(reply_stat.MSG_DENIED)
    .uint32(reject_stat.RPC_MISMATCH).uint32(RPC_VERSION).uint32(RPC_VERSION)
}

/** MSG_DENIED / AUTH_ERROR reply (a replyWriter). */
export function authErrorReply (xid: number, stat: AuthStat): XdrWriter {
  return replyWriter().uint32(xid).uint32(msg_type.REPLY).uint32(reply_stat.MSG_DENIED)
    .uint32(reject_stat.AUTH_ERROR).uint32(stat)
}
