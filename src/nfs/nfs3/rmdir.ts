import type { Procedure } from '../server.js'
import { readFh } from './attrs.js'
import { readName, type Nfs3State } from './context.js'
import { removeIn } from './dirop.js'

/** RMDIR3, RFC 1813 §3.3.13: removes an empty directory. */
export function rmdir (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const dir = readFh(args)
    const name = readName(args)
    return await removeIn(s, dir, name, ctx, async (fs, d) => { await fs.rmdir(d, name) })
  }
}
