import type { Procedure } from '../server.js'
import { readFh, readSattr3 } from './attrs.js'
import { readName, type Nfs3State } from './context.js'
import { createIn } from './dirop.js'

/** Longest symlink target accepted (PATH_MAX). */
const MAX_TARGET_BYTES = 4096

/** SYMLINK3, RFC 1813 §3.3.10. */
export function symlink (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const dir = readFh(args)
    const name = readName(args)
    const attrs = readSattr3(args)
    const target = args.string(MAX_TARGET_BYTES)
    return await createIn(s, dir, name, ctx, async (fs, d, caller) => await fs.symlink(d, name, target, attrs, caller))
  }
}
