import { CID } from 'multiformats/cid'
import { BadRefError } from './errors.js'
import { isValidName } from './names.js'

/**
 * A reference to a tree: an immutable CID (`cas://CID`, `template://NAME@CID`, a bare CID)
 * or a mutable name to resolve (`template://Debian/12/current`, `acme/web`).
 */
export type TreeRef =
  | { readonly kind: 'cid', readonly cid: CID, readonly name?: string }
  | { readonly kind: 'name', readonly name: string }

function parseCid (text: string, whole: string): CID {
  try { return CID.parse(text) } catch (err) { throw new BadRefError(`"${whole}" does not hold a valid CID`, { cause: err }) }
}

/** Parses a reference. Throws BadRefError for anything that is neither a CID nor a valid name. */
export function parseRef (text: string): TreeRef {
  if (text.startsWith('cas://')) return { kind: 'cid', cid: parseCid(text.slice(6), text) }
  if (text.startsWith('template://')) {
    const rest = text.slice('template://'.length)
    const at = rest.lastIndexOf('@')
    if (at >= 0) {
      const name = rest.slice(0, at)
      if (!isValidName(name)) throw new BadRefError(`"${text}": bad template name "${name}"`)
      return { kind: 'cid', cid: parseCid(rest.slice(at + 1), text), name }
    }
    if (!isValidName(rest)) throw new BadRefError(`"${text}": bad template name "${rest}"`)
    return { kind: 'name', name: rest }
  }
  if (/^(b[a-z2-7]{40,}|Qm[1-9A-HJ-NP-Za-km-z]{44}|z[1-9A-HJ-NP-Za-km-z]{40,})$/.test(text)) return { kind: 'cid', cid: parseCid(text, text) }
  if (isValidName(text)) return { kind: 'name', name: text }
  throw new BadRefError(`"${text}" is neither a CID, a name, cas://CID nor template://NAME[@CID]`)
}
