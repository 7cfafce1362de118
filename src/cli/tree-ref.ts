import type { CID } from 'multiformats/cid'
import type { LocalStore } from '../cas/store/local.js'
import { resolveRoot } from './store.js'

/**
 * Splits `ROOT[:PATH]` (ROOT a CID or pin name; neither contains ':') and resolves ROOT in
 * `store`. PATH defaults to '/'. Rejects CAS_BAD_CID / CAS_PIN_NOT_FOUND like resolveRoot.
 */
export async function resolveTreeRef (store: Pick<LocalStore, 'resolvePin'>, text: string): Promise<{ root: CID, path: string }> {
  const colon = text.indexOf(':')
  const rootText = colon < 0 ? text : text.slice(0, colon)
  const path = colon < 0 ? '/' : text.slice(colon + 1)
  return { root: await resolveRoot(store, rootText), path: path === '' ? '/' : path }
}
