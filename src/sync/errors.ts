import { CodedError } from '../util/coded-error.js'

export { CodedError }

/**
 * Sync errors. Each class carries a stable `code` (SYNC_*) and, for the server, the HTTP
 * status it maps to (read once by server.ts's error handler; handlers never pick numbers).
 */
export class SyncError extends CodedError {
  /** HTTP status this error maps to when raised inside the server. */
  readonly status: number
  constructor (code: string, status: number, message: string, options?: ErrorOptions) {
    super(code, message, options)
    this.status = status
  }
}

/** A request or message that does not decode or breaks the protocol. */
export class BadRequestError extends SyncError {
  static readonly code = 'SYNC_BAD_REQUEST'
  constructor (message: string, options?: ErrorOptions) { super(BadRequestError.code, 400, message, options) }
}

/** A request above a configured limit (CIDs per request, body bytes, block bytes). */
export class TooLargeError extends SyncError {
  static readonly code = 'SYNC_TOO_LARGE'
  constructor (message: string, options?: ErrorOptions) { super(TooLargeError.code, 413, message, options) }
}

/** A CAR stream that is malformed, or ends in the middle of a block. */
export class BadCarError extends SyncError {
  static readonly code = 'SYNC_BAD_CAR'
  constructor (message: string, options?: ErrorOptions) { super(BadCarError.code, 400, message, options) }
}

/** A CAR stream that ended before its last block was complete (the verified blocks before it are kept). */
export class TruncatedCarError extends SyncError {
  static readonly code = 'SYNC_CAR_TRUNCATED'
  constructor (message = 'CAR stream ended in the middle of a block', options?: ErrorOptions) {
    super(TruncatedCarError.code, 400, message, options)
  }
}

/** A block whose bytes do not hash to its CID, or whose CID uses a codec/hash xeno does not accept. */
export class BadBlockError extends SyncError {
  static readonly code = 'SYNC_BAD_BLOCK'
  constructor (message: string, options?: ErrorOptions) { super(BadBlockError.code, 422, message, options) }
}

/** No or unknown token. */
export class UnauthorizedError extends SyncError {
  static readonly code = 'SYNC_UNAUTHORIZED'
  constructor (message = 'missing or unknown token', options?: ErrorOptions) { super(UnauthorizedError.code, 401, message, options) }
}

/** A valid token without the scope this request needs. */
export class ForbiddenError extends SyncError {
  static readonly code = 'SYNC_FORBIDDEN'
  constructor (message: string, options?: ErrorOptions) { super(ForbiddenError.code, 403, message, options) }
}

/** A name, block or route that does not exist (or that this tenant may not see). */
export class NotFoundError extends SyncError {
  static readonly code = 'SYNC_NOT_FOUND'
  constructor (message: string, options?: ErrorOptions) { super(NotFoundError.code, 404, message, options) }
}

/** A name record whose signature does not verify. */
export class BadSignatureError extends SyncError {
  static readonly code = 'SYNC_BAD_SIGNATURE'
  constructor (message: string, options?: ErrorOptions) { super(BadSignatureError.code, 403, message, options) }
}

/** A name record signed by a key that is not trusted for that name. */
export class UntrustedKeyError extends SyncError {
  static readonly code = 'SYNC_UNTRUSTED_KEY'
  constructor (message: string, options?: ErrorOptions) { super(UntrustedKeyError.code, 403, message, options) }
}

/** A name record whose sequence number is not above the one already known (a rollback or replay). */
export class RollbackError extends SyncError {
  static readonly code = 'SYNC_NAME_ROLLBACK'
  constructor (message: string, options?: ErrorOptions) { super(RollbackError.code, 409, message, options) }
}

/** A name record whose `prev` is not the current root (a concurrent publish won). */
export class NameConflictError extends SyncError {
  static readonly code = 'SYNC_NAME_CONFLICT'
  constructor (message: string, options?: ErrorOptions) { super(NameConflictError.code, 409, message, options) }
}

/** A tree that is not complete on the server (a publish before every block arrived). */
export class IncompleteTreeError extends SyncError {
  static readonly code = 'SYNC_INCOMPLETE_TREE'
  constructor (message: string, options?: ErrorOptions) { super(IncompleteTreeError.code, 409, message, options) }
}

/** The peer answered with an error; `remoteCode` is its code (e.g. SYNC_UNAUTHORIZED). */
export class PeerRejectedError extends SyncError {
  static readonly code = 'SYNC_PEER_REJECTED'
  readonly remoteCode: string
  constructor (status: number, remoteCode: string, message: string, options?: ErrorOptions) {
    super(PeerRejectedError.code, status, message, options)
    this.remoteCode = remoteCode
  }
}

/** The peer could not be reached, or the connection broke mid-transfer (re-run to resume). */
export class PeerUnreachableError extends SyncError {
  static readonly code = 'SYNC_PEER_UNREACHABLE'
  constructor (message: string, options?: ErrorOptions) { super(PeerUnreachableError.code, 502, message, options) }
}

/** The peer did not send blocks it was asked for. */
export class IncompleteTransferError extends SyncError {
  static readonly code = 'SYNC_INCOMPLETE'
  constructor (message: string, options?: ErrorOptions) { super(IncompleteTransferError.code, 502, message, options) }
}

/** A reference (`template://…`, `cas://…`, name) that cannot be parsed. */
export class BadRefError extends SyncError {
  static readonly code = 'SYNC_BAD_REF'
  constructor (message: string, options?: ErrorOptions) { super(BadRefError.code, 400, message, options) }
}

/** A config, trust list or key file that cannot be used. */
export class BadConfigError extends SyncError {
  static readonly code = 'SYNC_BAD_CONFIG'
  constructor (message: string, options?: ErrorOptions) { super(BadConfigError.code, 500, message, options) }
}
