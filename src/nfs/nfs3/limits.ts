/** Transfer sizes advertised in FSINFO3 (RFC 1813 §3.3.19) and enforced on READ/WRITE. */
export const MAX_IO_SIZE_1MIB = 1_048_576
export const PREF_IO_SIZE_1MIB = 1_048_576
/** Preferred READDIR request size. */
export const PREF_DIR_SIZE_64KIB = 65_536
/** Largest READDIR/READDIRPLUS reply built, whatever the client asks for. */
export const MAX_DIR_REPLY_1MIB = 1_048_576
