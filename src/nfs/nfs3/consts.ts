/**
 * Wire constants of NFS version 3 (RFC 1813) and MOUNT version 3 (RFC 1813 Appendix I),
 * spelled as in the RFC so they can be grepped against it.
 */

/** Program numbers and versions (RFC 1813 §2.2, Appendix I). */
export const NFS_PROGRAM = 100003
export const NFS_V3 = 3
export const MOUNT_PROGRAM = 100005
export const MOUNT_V3 = 3

/** Procedure numbers of NFS_PROGRAM version 3 (RFC 1813 §3.3). */
export const NFSPROC3 = {
  NULL: 0,
  GETATTR: 1,
  SETATTR: 2,
  LOOKUP: 3,
  ACCESS: 4,
  READLINK: 5,
  READ: 6,
  WRITE: 7,
  CREATE: 8,
  MKDIR: 9,
  SYMLINK: 10,
  MKNOD: 11,
  REMOVE: 12,
  RMDIR: 13,
  RENAME: 14,
  LINK: 15,
  READDIR: 16,
  READDIRPLUS: 17,
  FSSTAT: 18,
  FSINFO: 19,
  PATHCONF: 20,
  COMMIT: 21
} as const

/** nfsstat3 (RFC 1813 §2.6). */
export const nfsstat3 = {
  NFS3_OK: 0,
  NFS3ERR_PERM: 1,
  NFS3ERR_NOENT: 2,
  NFS3ERR_IO: 5,
  NFS3ERR_NXIO: 6,
  NFS3ERR_ACCES: 13,
  NFS3ERR_EXIST: 17,
  NFS3ERR_XDEV: 18,
  NFS3ERR_NODEV: 19,
  NFS3ERR_NOTDIR: 20,
  NFS3ERR_ISDIR: 21,
  NFS3ERR_INVAL: 22,
  NFS3ERR_FBIG: 27,
  NFS3ERR_NOSPC: 28,
  NFS3ERR_ROFS: 30,
  NFS3ERR_MLINK: 31,
  NFS3ERR_NAMETOOLONG: 63,
  NFS3ERR_NOTEMPTY: 66,
  NFS3ERR_DQUOT: 69,
  NFS3ERR_STALE: 70,
  NFS3ERR_REMOTE: 71,
  NFS3ERR_BADHANDLE: 10001,
  NFS3ERR_NOT_SYNC: 10002,
  NFS3ERR_BAD_COOKIE: 10003,
  NFS3ERR_NOTSUPP: 10004,
  NFS3ERR_TOOSMALL: 10005,
  NFS3ERR_SERVERFAULT: 10006,
  NFS3ERR_BADTYPE: 10007,
  NFS3ERR_JUKEBOX: 10008
} as const
export type NfsStat3 = typeof nfsstat3[keyof typeof nfsstat3]

/** ftype3 (RFC 1813 §2.6). */
export const ftype3 = {
  NF3REG: 1,
  NF3DIR: 2,
  NF3BLK: 3,
  NF3CHR: 4,
  NF3LNK: 5,
  NF3SOCK: 6,
  NF3FIFO: 7
} as const
export type FType3 = typeof ftype3[keyof typeof ftype3]

/** Sizes (RFC 1813 §2.4). */
export const NFS3_FHSIZE = 64
export const NFS3_COOKIEVERFSIZE = 8
export const NFS3_CREATEVERFSIZE = 8
export const NFS3_WRITEVERFSIZE = 8

/** ACCESS3 bits (RFC 1813 §3.3.4). */
export const ACCESS3 = {
  READ: 0x0001,
  LOOKUP: 0x0002,
  MODIFY: 0x0004,
  EXTEND: 0x0008,
  DELETE: 0x0010,
  EXECUTE: 0x0020
} as const

/** stable_how (RFC 1813 §3.3.7). */
export const stable_how = {
  UNSTABLE: 0,
  DATA_SYNC: 1,
  FILE_SYNC: 2
} as const
export type StableHow = typeof stable_how[keyof typeof stable_how]

/** createmode3 (RFC 1813 §3.3.8). */
export const createmode3 = {
  UNCHECKED: 0,
  GUARDED: 1,
  EXCLUSIVE: 2
} as const

/** time_how for sattr3 (RFC 1813 §2.6). */
export const time_how = {
  DONT_CHANGE: 0,
  SET_TO_SERVER_TIME: 1,
  SET_TO_CLIENT_TIME: 2
} as const

/** FSINFO3 properties bits (RFC 1813 §3.3.19). */
export const FSF3 = {
  LINK: 0x0001,
  SYMLINK: 0x0002,
  HOMOGENEOUS: 0x0008,
  CANSETTIME: 0x0010
} as const

/** MOUNT v3 procedures (RFC 1813 Appendix I §5.2). */
export const MOUNTPROC3 = {
  NULL: 0,
  MNT: 1,
  DUMP: 2,
  UMNT: 3,
  UMNTALL: 4,
  EXPORT: 5
} as const

/** mountstat3 (RFC 1813 Appendix I §5.1.5). */
export const mountstat3 = {
  MNT3_OK: 0,
  MNT3ERR_PERM: 1,
  MNT3ERR_NOENT: 2,
  MNT3ERR_IO: 5,
  MNT3ERR_ACCES: 13,
  MNT3ERR_NOTDIR: 20,
  MNT3ERR_INVAL: 22,
  MNT3ERR_NAMETOOLONG: 63,
  MNT3ERR_NOTSUPP: 10004,
  MNT3ERR_SERVERFAULT: 10006
} as const

/** MOUNT limits (RFC 1813 Appendix I §5.1). */
export const MNTPATHLEN = 1024
export const MNTNAMLEN = 255
