import { BadPathError } from './errors.js'
import { isValidName } from './codec.js'

/**
 * Splits a tree path into names. Leading, trailing and repeated slashes are ignored and `.`
 * segments dropped; `..` is rejected (trees are addressed from their root only), as is any
 * segment that cannot be an entry name. `''` and `'/'` are the root (no names).
 */
export function splitPath (path: string): string[] {
  const names: string[] = []
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') throw new BadPathError(path, '".." is not allowed')
    if (!isValidName(seg)) throw new BadPathError(path, `invalid name "${seg}"`)
    names.push(seg)
  }
  return names
}

/** Joins names into a canonical absolute path ('/' for none). */
export function joinPath (names: readonly string[]): string {
  return '/' + names.join('/')
}

/** The parent's names and the last name of a non-root path. */
export function parentAndName (path: string): { parent: string[], name: string } {
  const names = splitPath(path)
  const name = names.pop()
  if (name === undefined) throw new BadPathError(path, 'the root has no parent')
  return { parent: names, name }
}
