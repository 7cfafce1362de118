import type { CID } from 'multiformats/cid'
import { CodedError } from '../util/coded-error.js'

export { CodedError }

/** A chunk that a tree references is not in the store. */
export class ChunkMissingError extends CodedError {
  static readonly code = 'CAS_CHUNK_MISSING'
  readonly cid: CID
  constructor (cid: CID, options?: ErrorOptions) {
    super(ChunkMissingError.code, `chunk ${cid} missing from store`, options)
    this.cid = cid
  }
}

/** Bytes do not hash to the CID they are stored or offered under. */
export class ChunkInvalidError extends CodedError {
  static readonly code = 'CAS_CHUNK_INVALID'
  readonly cid: CID
  constructor (cid: CID, detail = 'bytes do not match their hash', options?: ErrorOptions) {
    super(ChunkInvalidError.code, `chunk ${cid} is corrupt: ${detail}`, options)
    this.cid = cid
  }
}

/** An operation on a store that was closed. */
export class StoreClosedError extends CodedError {
  static readonly code = 'CAS_STORE_CLOSED'
  constructor (options?: ErrorOptions) {
    super(StoreClosedError.code, 'store is closed', options)
  }
}

/** A command that reads a store was pointed at a folder that holds none. */
export class StoreMissingError extends CodedError {
  static readonly code = 'CAS_STORE_MISSING'
  readonly dir: string
  constructor (dir: string, options?: ErrorOptions) {
    super(StoreMissingError.code, `no store at ${dir} (xeno template import or xeno pull makes one; --store DIR or XENO_STORE picks another)`, options)
    this.dir = dir
  }
}

/** The store's files are damaged beyond what reading around them can fix (run `xeno fsck`). */
export class StoreCorruptError extends CodedError {
  static readonly code = 'CAS_STORE_CORRUPT'
  constructor (message: string, options?: ErrorOptions) {
    super(StoreCorruptError.code, message, options)
  }
}

/** A name (pin) that does not exist. */
export class PinNotFoundError extends CodedError {
  static readonly code = 'CAS_PIN_NOT_FOUND'
  readonly pinName: string
  constructor (name: string, options?: ErrorOptions) {
    super(PinNotFoundError.code, `no root named "${name}" in this store`, options)
    this.pinName = name
  }
}

/** A string that is neither a CID nor a name. */
export class BadCidError extends CodedError {
  static readonly code = 'CAS_BAD_CID'
  constructor (text: string, options?: ErrorOptions) {
    super(BadCidError.code, `"${text}" is not a valid CID`, options)
  }
}

/** Another process (or another open in this one) holds the store. */
export class StoreLockedError extends CodedError {
  static readonly code = 'CAS_STORE_LOCKED'
  readonly dir: string
  constructor (dir: string, options?: ErrorOptions) {
    super(StoreLockedError.code, `store ${dir} is in use by another xeno process (retry when it is done, or wait for it with XENO_LOCK_WAIT=SECONDS)`, options)
    this.dir = dir
  }
}

/** A pin name with characters outside letters, digits and `._-/@`, or badly formed. */
export class BadPinNameError extends CodedError {
  static readonly code = 'CAS_BAD_PIN_NAME'
  constructor (name: string, detail: string, options?: ErrorOptions) {
    super(BadPinNameError.code, `bad pin name ${JSON.stringify(name)}: ${detail}`, options)
  }
}

/** The native addon (build/Release/xeno_posix.node) is not built or lacks what is asked of it. */
export class AddonMissingError extends CodedError {
  static readonly code = 'CAS_ADDON_MISSING'
  constructor (what: string, options?: ErrorOptions) {
    super(AddonMissingError.code, `the native addon is not built or is out of date (${what} missing); run \`npm run build\``, options)
  }
}
