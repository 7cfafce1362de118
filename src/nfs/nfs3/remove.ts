import type { Procedure } from '../server.js'
import { readFh } from './attrs.js'
import { readName, type Nfs3State } from './context.js'
import { removeIn } from './dirop.js'

/** REMOVE3, RFC 1813 §3.3.12: unlinks a non-directory. */
export function remove (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const dir = readFh(args)
    const name = readName(args)
    return await removeIn(s, dir, name, ctx, async (fs, d) => { await fs.remove(d, name) })
  }
}
