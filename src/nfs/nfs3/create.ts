import { XdrError } from '../errors.js'
import type { CreateHow } from '../backend.js'
import type { Procedure } from '../server.js'
import { readFh, readSattr3 } from './attrs.js'
import { readName, type Nfs3State } from './context.js'
import { createmode3, NFS3_CREATEVERFSIZE } from './consts.js'
import { createIn } from './dirop.js'

/** CREATE3, RFC 1813 §3.3.8: UNCHECKED, GUARDED (NFS3ERR_EXIST) or EXCLUSIVE (verifier). */
export function create (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const dir = readFh(args)
    const name = readName(args)
    const mode = args.uint32()
    let how: CreateHow
    if (mode === createmode3.UNCHECKED) how = { mode: 'unchecked', attrs: readSattr3(args) }
    else if (mode === createmode3.GUARDED) how = { mode: 'guarded', attrs: readSattr3(args) }
    else if (mode === createmode3.EXCLUSIVE) how = { mode: 'exclusive', verifier: Uint8Array.from(args.opaqueFixed(NFS3_CREATEVERFSIZE)) }
    else throw new XdrError(`createmode3 ${mode}`)
    return await createIn(s, dir, name, ctx, async (fs, d, caller) => await fs.create(d, name, how, caller))
  }
}
