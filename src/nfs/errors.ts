import { CodedError } from '../util/coded-error.js'
import { nfsstat3, type NfsStat3 } from './nfs3/consts.js'

/** Bytes that do not decode as the XDR the reader was asked for (RFC 4506). */
export class XdrError extends CodedError {
  static readonly code = 'NFS_BAD_XDR'
  constructor (message: string, options?: ErrorOptions) {
    super(XdrError.code, `bad XDR: ${message}`, options)
  }
}

/** A TCP record whose announced size exceeds the server's bound (RFC 5531 §11). */
export class RecordTooLargeError extends CodedError {
  static readonly code = 'NFS_RECORD_TOO_LARGE'
  constructor (readonly size: number, readonly limit: number) {
    super(RecordTooLargeError.code, `RPC record of ${size} bytes exceeds the limit of ${limit}`)
  }
}

/** A file handle that does not parse or whose MAC does not verify. */
export class BadHandleError extends CodedError {
  static readonly code = 'NFS_BAD_HANDLE'
  constructor (message = 'file handle is malformed or forged') {
    super(BadHandleError.code, message)
  }
}

/** A well-formed handle whose node no longer exists (or belongs to another export). */
export class StaleHandleError extends CodedError {
  static readonly code = 'NFS_STALE_HANDLE'
  constructor (message = 'file handle is stale') {
    super(StaleHandleError.code, message)
  }
}

/**
 * A backend (or procedure) outcome that maps directly to an nfsstat3. Backends may throw it for
 * conditions that have no domain error (NFS3ERR_NOTSUPP, NFS3ERR_ROFS, ...).
 */
export class NfsStatusError extends CodedError {
  static readonly code = 'NFS_STATUS'
  constructor (readonly status: NfsStat3, message?: string, options?: ErrorOptions) {
    super(NfsStatusError.code, message ?? `NFS status ${status}`, options)
  }
}

/** The server was closed, or an option is out of range. */
export class NfsConfigError extends CodedError {
  static readonly code = 'NFS_CONFIG'
  constructor (message: string, options?: ErrorOptions) {
    super(NfsConfigError.code, message, options)
  }
}

/**
 * The one table from domain error codes (any module) to nfsstat3 (STYLE §2.3.6). Node's errno
 * codes are included so a backend over a real directory needs no mapping of its own.
 */
const STATUS_BY_CODE: Record<string, NfsStat3> = {
  NFS_BAD_HANDLE: nfsstat3.NFS3ERR_BADHANDLE,
  NFS_STALE_HANDLE: nfsstat3.NFS3ERR_STALE,
  NFS_BAD_XDR: nfsstat3.NFS3ERR_INVAL,
  OVERLAY_NOT_FOUND: nfsstat3.NFS3ERR_NOENT,
  OVERLAY_NOT_DIR: nfsstat3.NFS3ERR_NOTDIR,
  OVERLAY_IS_DIR: nfsstat3.NFS3ERR_ISDIR,
  OVERLAY_EXISTS: nfsstat3.NFS3ERR_EXIST,
  OVERLAY_NOT_EMPTY: nfsstat3.NFS3ERR_NOTEMPTY,
  OVERLAY_BAD_PATH: nfsstat3.NFS3ERR_INVAL,
  OVERLAY_READ_ONLY: nfsstat3.NFS3ERR_ROFS,
  OVERLAY_NAME_TOO_LONG: nfsstat3.NFS3ERR_NAMETOOLONG,
  OVERLAY_INVALID: nfsstat3.NFS3ERR_INVAL,
  OVERLAY_CROSS_LAYER: nfsstat3.NFS3ERR_XDEV,
  OVERLAY_LAYER_BUSY: nfsstat3.NFS3ERR_JUKEBOX,
  OVERLAY_BAD_NODE: nfsstat3.NFS3ERR_IO,
  OVERLAY_BAD_MOUNT: nfsstat3.NFS3ERR_IO,
  CAS_CHUNK_MISSING: nfsstat3.NFS3ERR_IO,
  CAS_CHUNK_INVALID: nfsstat3.NFS3ERR_IO,
  ENOENT: nfsstat3.NFS3ERR_NOENT,
  ENOTDIR: nfsstat3.NFS3ERR_NOTDIR,
  EISDIR: nfsstat3.NFS3ERR_ISDIR,
  EEXIST: nfsstat3.NFS3ERR_EXIST,
  ENOTEMPTY: nfsstat3.NFS3ERR_NOTEMPTY,
  EACCES: nfsstat3.NFS3ERR_ACCES,
  EPERM: nfsstat3.NFS3ERR_PERM,
  EINVAL: nfsstat3.NFS3ERR_INVAL,
  ENAMETOOLONG: nfsstat3.NFS3ERR_NAMETOOLONG,
  ENOSPC: nfsstat3.NFS3ERR_NOSPC,
  EROFS: nfsstat3.NFS3ERR_ROFS,
  EXDEV: nfsstat3.NFS3ERR_XDEV,
  EMLINK: nfsstat3.NFS3ERR_MLINK,
  EFBIG: nfsstat3.NFS3ERR_FBIG,
  EDQUOT: nfsstat3.NFS3ERR_DQUOT,
  ENXIO: nfsstat3.NFS3ERR_NXIO,
  ENODEV: nfsstat3.NFS3ERR_NODEV,
  ELOOP: nfsstat3.NFS3ERR_INVAL,
  ESTALE: nfsstat3.NFS3ERR_STALE,
  ENOTSUP: nfsstat3.NFS3ERR_NOTSUPP,
  EOPNOTSUPP: nfsstat3.NFS3ERR_NOTSUPP
}

/** nfsstat3 for any thrown value: NfsStatusError's own status, the table, else NFS3ERR_IO. */
export function statusOf (err: unknown): NfsStat3 {
  if (err instanceof NfsStatusError) return err.status
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined
  if (typeof code === 'string' && code in STATUS_BY_CODE) return STATUS_BY_CODE[code]!
  return nfsstat3.NFS3ERR_IO
}
