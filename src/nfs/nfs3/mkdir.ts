import type { Procedure } from '../server.js'
import { readFh, readSattr3 } from './attrs.js'
import { readName, type Nfs3State } from './context.js'
import { createIn } from './dirop.js'

/** MKDIR3, RFC 1813 §3.3.9. */
export function mkdir (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const dir = readFh(args)
    const name = readName(args)
    const attrs = readSattr3(args)
    return await createIn(s, dir, name, ctx, async (fs, d, caller) => await fs.mkdir(d, name, attrs, caller))
  }
}
