import type { CID } from 'multiformats/cid'
import { BadPinNameError } from './errors.js'

/** A named root. */
export interface Pin {
  readonly name: string
  readonly root: CID
}

const MAX_PIN_NAME_BYTES = 255
const PIN_NAME = /^[A-Za-z0-9._\-/@]+$/

/**
 * Throws BadPinNameError unless `name` is a valid pin name: 1–255 characters from letters,
 * digits and `._-/@`, `/`-separated segments that are neither empty, `.` nor `..`
 * (`debian/12`, `Debian/12/current`, `app@2024.1`).
 */
export function checkPinName (name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new BadPinNameError(String(name), 'empty')
  if (name.length > MAX_PIN_NAME_BYTES) throw new BadPinNameError(name, `longer than ${MAX_PIN_NAME_BYTES} characters`)
  if (!PIN_NAME.test(name)) throw new BadPinNameError(name, 'only letters, digits and ._-/@ are allowed')
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') throw new BadPinNameError(name, 'empty, "." or ".." path segment')
  }
}

/** True when `name` is a valid pin name (see checkPinName). */
export function isPinName (name: string): boolean {
  try { checkPinName(name); return true } catch { return false }
}
