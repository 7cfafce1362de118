/**
 * Base class of every domain error in xeno. `code` is stable (module-prefixed, uppercase);
 * messages may change. `name` is derived from the concrete class once, here.
 */
export class CodedError extends Error {
  readonly code: string
  constructor (code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** True when `err` is a CodedError (or any error carrying a string `code`) with that code. */
export function hasCode (err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code
}
