import type { RpcProgram } from '../server.js'
import { access } from './access.js'
import { commit } from './commit.js'
import { NFS_PROGRAM, NFS_V3, NFSPROC3 } from './consts.js'
import type { Nfs3State } from './context.js'
import { create } from './create.js'
import { fsinfo } from './fsinfo.js'
import { fsstat } from './fsstat.js'
import { getattr } from './getattr.js'
import { link } from './link.js'
import { lookup } from './lookup.js'
import { mkdir } from './mkdir.js'
import { mknod } from './mknod.js'
import { pathconf } from './pathconf.js'
import { read } from './read.js'
import { readdir } from './readdir.js'
import { readdirplus } from './readdirplus.js'
import { readlink } from './readlink.js'
import { isSmallRead, replayable } from './reply-cache.js'
import { remove } from './remove.js'
import { rename } from './rename.js'
import { rmdir } from './rmdir.js'
import { setattr } from './setattr.js'
import { symlink } from './symlink.js'
import { write } from './write.js'

/** Program 100003 version 3: all 22 procedures of RFC 1813 §3.3. */
export function nfs3Program (s: Nfs3State): RpcProgram {
  return {
    prog: NFS_PROGRAM,
    vers: NFS_V3,
    procs: {
      [NFSPROC3.NULL]: () => () => {},
      [NFSPROC3.GETATTR]: replayable(s, NFSPROC3.GETATTR, getattr(s)),
      [NFSPROC3.SETATTR]: setattr(s),
      [NFSPROC3.LOOKUP]: replayable(s, NFSPROC3.LOOKUP, lookup(s)),
      [NFSPROC3.ACCESS]: replayable(s, NFSPROC3.ACCESS, access(s)),
      [NFSPROC3.READLINK]: replayable(s, NFSPROC3.READLINK, readlink(s)),
      [NFSPROC3.READ]: replayable(s, NFSPROC3.READ, read(s), isSmallRead),
      [NFSPROC3.WRITE]: write(s),
      [NFSPROC3.CREATE]: create(s),
      [NFSPROC3.MKDIR]: mkdir(s),
      [NFSPROC3.SYMLINK]: symlink(s),
      [NFSPROC3.MKNOD]: mknod(s),
      [NFSPROC3.REMOVE]: remove(s),
      [NFSPROC3.RMDIR]: rmdir(s),
      [NFSPROC3.RENAME]: rename(s),
      [NFSPROC3.LINK]: link(s),
      [NFSPROC3.READDIR]: readdir(s),
      [NFSPROC3.READDIRPLUS]: replayable(s, NFSPROC3.READDIRPLUS, readdirplus(s)),
      [NFSPROC3.FSSTAT]: fsstat(s),
      [NFSPROC3.FSINFO]: replayable(s, NFSPROC3.FSINFO, fsinfo(s)),
      [NFSPROC3.PATHCONF]: replayable(s, NFSPROC3.PATHCONF, pathconf(s)),
      [NFSPROC3.COMMIT]: commit(s)
    }
  }
}

export { Nfs3State } from './context.js'
