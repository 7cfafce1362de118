import { CodedError } from '../util/coded-error.js'

/** A tree node that does not decode or breaks an invariant of the format. */
export class BadNodeError extends CodedError {
  static readonly code = 'OVERLAY_BAD_NODE'
  constructor (message: string, options?: ErrorOptions) {
    super(BadNodeError.code, `malformed tree node: ${message}`, options)
  }
}

export class NotFoundError extends CodedError {
  static readonly code = 'OVERLAY_NOT_FOUND'
  readonly path: string
  constructor (path: string, options?: ErrorOptions) {
    super(NotFoundError.code, `no such file or directory: ${path}`, options)
    this.path = path
  }
}

export class NotDirError extends CodedError {
  static readonly code = 'OVERLAY_NOT_DIR'
  readonly path: string
  constructor (path: string, options?: ErrorOptions) {
    super(NotDirError.code, `not a directory: ${path}`, options)
    this.path = path
  }
}

export class IsDirError extends CodedError {
  static readonly code = 'OVERLAY_IS_DIR'
  readonly path: string
  constructor (path: string, options?: ErrorOptions) {
    super(IsDirError.code, `is a directory: ${path}`, options)
    this.path = path
  }
}

export class ExistsError extends CodedError {
  static readonly code = 'OVERLAY_EXISTS'
  readonly path: string
  constructor (path: string, options?: ErrorOptions) {
    super(ExistsError.code, `already exists: ${path}`, options)
    this.path = path
  }
}

export class NotEmptyError extends CodedError {
  static readonly code = 'OVERLAY_NOT_EMPTY'
  readonly path: string
  constructor (path: string, options?: ErrorOptions) {
    super(NotEmptyError.code, `directory not empty: ${path}`, options)
    this.path = path
  }
}

export class BadPathError extends CodedError {
  static readonly code = 'OVERLAY_BAD_PATH'
  constructor (path: string, why: string, options?: ErrorOptions) {
    super(BadPathError.code, `bad path "${path}": ${why}`, options)
  }
}

/** A `.mount` file that cannot be used; the message names the file and line. */
export class BadMountError extends CodedError {
  static readonly code = 'OVERLAY_BAD_MOUNT'
  constructor (message: string, options?: ErrorOptions) {
    super(BadMountError.code, message, options)
  }
}

/** An input (directory, tar stream) that cannot be imported. */
export class ImportError extends CodedError {
  static readonly code = 'OVERLAY_IMPORT_FAILED'
  constructor (message: string, options?: ErrorOptions) {
    super(ImportError.code, message, options)
  }
}

/** A mutation of a read-only view or subtree (no writable layer there). */
export class ReadOnlyError extends CodedError {
  static readonly code = 'OVERLAY_READ_ONLY'
  constructor (path: string, options?: ErrorOptions) {
    super(ReadOnlyError.code, `read-only file system: ${path}`, options)
  }
}

/** An operation that makes no sense for its arguments (rename of a directory into itself, ...). */
export class InvalidOperationError extends CodedError {
  static readonly code = 'OVERLAY_INVALID'
  constructor (message: string, options?: ErrorOptions) {
    super(InvalidOperationError.code, message, options)
  }
}

/** A tree that cannot be written out (destination not empty, a file cannot be created, ...). */
export class ExportError extends CodedError {
  static readonly code = 'OVERLAY_EXPORT_FAILED'
  constructor (message: string, options?: ErrorOptions) {
    super(ExportError.code, message, options)
  }
}

/** A rename or link between two writable layers (a `.mount` boundary): like EXDEV, copy instead. */
export class CrossLayerError extends CodedError {
  static readonly code = 'OVERLAY_CROSS_LAYER'
  constructor (from: string, to: string, options?: ErrorOptions) {
    super(CrossLayerError.code, `${from} and ${to} are in different writable layers`, options)
  }
}

/** A writable layer another process (or another open in this one) holds, e.g. a running instance. */
export class LayerBusyError extends CodedError {
  static readonly code = 'OVERLAY_LAYER_BUSY'
  constructor (dir: string, options?: ErrorOptions) {
    super(LayerBusyError.code, `writable layer ${dir} is in use by another process`, options)
  }
}
