import type { StableHow } from './nfs3/consts.js'

/**
 * The Filesystem interface the NFS procedures call: all that nfs/ knows of what it exports
 * (cf. go-nfs `Handler`/`billy.Filesystem`). Nodes are named by a stable 64-bit `NodeId`, the
 * fileid clients see, which handles.ts wraps in a MAC'd file handle.
 *
 * Errors: a method rejects with a domain error (OVERLAY_NOT_FOUND, ENOENT, ...), an
 * NfsStatusError, or StaleHandleError when `id` names no node; nfs/errors.ts maps them to
 * nfsstat3 once. Absent names are errors here because NFS reports them as status codes.
 */

/** A stable node number, unique within one Filesystem and never reused for another node. */
export type NodeId = bigint

export type FileType = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket'

/** fattr3 in domain terms (RFC 1813 §2.6). Times are nanoseconds since the epoch. */
export interface Attrs {
  readonly type: FileType
  /** Permission and special bits only (0o7777). */
  readonly mode: number
  readonly nlink: number
  readonly uid: number
  readonly gid: number
  readonly size: bigint
  readonly used: bigint
  readonly rdev: { readonly major: number, readonly minor: number }
  readonly fileid: NodeId
  readonly atimeNs: bigint
  readonly mtimeNs: bigint
  readonly ctimeNs: bigint
}

/** sattr3 (RFC 1813 §2.6): only the present fields change. 'now' is SET_TO_SERVER_TIME. */
export interface SetAttrs {
  mode?: number
  uid?: number
  gid?: number
  size?: bigint
  atimeNs?: bigint | 'now'
  mtimeNs?: bigint | 'now'
}

/** The caller, after root squash: used for ownership of created nodes and ACCESS. */
export interface Caller { readonly uid: number, readonly gid: number, readonly gids: readonly number[] }

export interface DirEntryOut {
  readonly name: string
  readonly id: NodeId
  /** Opaque resume point: passing it back continues after this entry. Never 0. */
  readonly cookie: bigint
  /** The entry's attributes when the listing already has them (spares READDIRPLUS a getattr). */
  readonly attrs?: Attrs
}

export interface ReaddirResult {
  readonly entries: DirEntryOut[]
  readonly eof: boolean
  /** cookieverf3 (RFC 1813 §3.3.16) for this listing. */
  readonly verifier: bigint
}

/** FSSTAT3 figures (RFC 1813 §3.3.18). */
export interface FsStat {
  readonly tbytes: bigint, readonly fbytes: bigint, readonly abytes: bigint
  readonly tfiles: bigint, readonly ffiles: bigint, readonly afiles: bigint
}

/** How CREATE treats an existing name (RFC 1813 §3.3.8). */
export type CreateHow =
  | { readonly mode: 'unchecked' | 'guarded', readonly attrs: SetAttrs }
  | { readonly mode: 'exclusive', readonly verifier: Uint8Array }

export interface Filesystem {
  /** The root directory of the export. */
  readonly root: NodeId
  /** A true read-only export: every mutation rejects with NFS3ERR_ROFS. */
  readonly readOnly: boolean
  /**
   * Moves whenever the export changes through this Filesystem and is odd while a mutation
   * runs: the same even value before and after computing a reply means nothing changed in
   * between, so the reply may be cached under it. Undefined when the export can change behind
   * the server's back (nothing derived from it may be cached).
   */
  readonly version?: number

  getattr (id: NodeId): Promise<Attrs>
  setattr (id: NodeId, set: SetAttrs, caller: Caller): Promise<Attrs>
  /** Resolves the child `name` of directory `dir` ('.' and '..' included). */
  lookup (dir: NodeId, name: string): Promise<NodeId>
  readlink (id: NodeId): Promise<string>
  /**
   * Up to `count` bytes from `offset`, as pieces in order (so cached chunks go out without a
   * copy); `eof` when the read reached the end of the file. `attrs`, when given, are the file's
   * current attributes (spares READ a getattr). The pieces may be shared with a cache: the
   * caller must not modify them.
   */
  read (id: NodeId, offset: bigint, count: number): Promise<{ data: readonly Uint8Array[], eof: boolean, attrs?: Attrs }>
  /**
   * Writes `data` at `offset`. Resolves when the data is at least as stable as `stable`
   * asks; `committed` says how stable it really is (never less than asked).
   */
  write (id: NodeId, offset: bigint, data: Uint8Array, stable: StableHow): Promise<{ committed: StableHow }>
  /** Makes every earlier write of `id` stable (COMMIT3). */
  commit (id: NodeId): Promise<void>
  create (dir: NodeId, name: string, how: CreateHow, caller: Caller): Promise<NodeId>
  mkdir (dir: NodeId, name: string, attrs: SetAttrs, caller: Caller): Promise<NodeId>
  symlink (dir: NodeId, name: string, target: string, attrs: SetAttrs, caller: Caller): Promise<NodeId>
  mknod (dir: NodeId, name: string, type: 'chardev' | 'blockdev' | 'fifo' | 'socket',
    rdev: { major: number, minor: number }, attrs: SetAttrs, caller: Caller): Promise<NodeId>
  remove (dir: NodeId, name: string): Promise<void>
  rmdir (dir: NodeId, name: string): Promise<void>
  rename (fromDir: NodeId, fromName: string, toDir: NodeId, toName: string): Promise<void>
  link (id: NodeId, dir: NodeId, name: string): Promise<void>
  /**
   * Entries of `dir` after `cookie` (0: from the start), without '.' and '..' (READDIR and
   * READDIRPLUS add those, nfs3/dot-entries.ts), at most
   * `maxEntries`. Cookies stay valid while the directory changes (an entry added or removed
   * behind the cursor is simply seen or not).
   */
  readdir (dir: NodeId, cookie: bigint, maxEntries: number): Promise<ReaddirResult>
  fsstat (): Promise<FsStat>
}
