import type { EntryKind } from './interface.js'

/**
 * The path-based file-system API of a union of layers (overlay/union-view.ts), with an
 * optional writable layer on top. This is what the NFS server and the CLI use. Types only.
 *
 * Paths are absolute tree paths ('/etc/passwd', '/' for the root); no symlink is followed.
 * Errors (codes from overlay/errors.ts): OVERLAY_NOT_FOUND, OVERLAY_NOT_DIR, OVERLAY_IS_DIR,
 * OVERLAY_EXISTS, OVERLAY_NOT_EMPTY, OVERLAY_BAD_PATH (bad name, '..', rename of a directory
 * into itself), OVERLAY_READ_ONLY (no writable layer at that path), OVERLAY_INVALID (e.g.
 * readlink of a non-symlink), OVERLAY_BAD_MOUNT (a broken `.mount` file on the way),
 * OVERLAY_CROSS_LAYER (rename/link across writable layers), CAS_CHUNK_MISSING (a block the
 * tree references is not available).
 *
 * Inode numbers: every path the view exposes has an `ino` that is stable across process
 * restarts (persisted in the writable layer, or in the state directory of a read-only view),
 * survives copy-up, chmod, writes and rename (files and directories), is shared by the names of
 * a hard link, and is never reused for another file. The root is always 1.
 */
export type Ino = bigint

/** The root directory's inode number. */
export const ROOT_INO: Ino = 1n

export type FileKind = Exclude<EntryKind, 'whiteout'>

/** Attributes of one visible file-system object. */
export interface Attrs {
  readonly ino: Ino
  readonly kind: FileKind
  /** Permission and special bits only (0o7777). */
  readonly mode: number
  readonly uid: number
  readonly gid: number
  /** Bytes of a file; length of a symlink target; 0 otherwise. */
  readonly size: number
  readonly nlink: number
  readonly mtimeNs: bigint
  /** Last change of metadata or content; mtime for objects no writable layer has touched. */
  readonly ctimeNs: bigint
  /** Symlink target. */
  readonly target?: string
  readonly devMajor?: number
  readonly devMinor?: number
  readonly xattrs?: Readonly<Record<string, Uint8Array>>
}

/** One name of a directory listing, with the attributes (READDIRPLUS needs them anyway). */
export interface ViewDirEntry { readonly name: string, readonly attrs: Attrs }

/** Owner and permissions of a new object. Missing fields: mode 0o644 (0o755 dirs), uid/gid 0, now. */
export interface CreateAttrs {
  mode?: number
  uid?: number
  gid?: number
  mtimeNs?: bigint
}

/** A setattr: only the present fields change. `size` truncates or extends with zeros (files only). */
export interface SetAttrs {
  mode?: number
  uid?: number
  gid?: number
  size?: number
  mtimeNs?: bigint
}

export interface ReadView {
  /** True when no path of the view can be changed. */
  readonly readOnly: boolean
  /** Attributes of `path`, or undefined when nothing is there. OVERLAY_NOT_DIR if a parent is not a directory. */
  stat (path: string): Promise<Attrs | undefined>
  /** Like stat, but absence rejects OVERLAY_NOT_FOUND. */
  statRequired (path: string): Promise<Attrs>
  /**
   * The last path `ino` was seen at, or undefined if the view never handed it out. The object
   * may have been removed since: callers that must know (NFS handles) stat the path and
   * compare `ino` (no object or another ino there means the handle is stale).
   */
  pathOf (ino: Ino): Promise<string | undefined>
  /**
   * The merged entries of directory `path` in bytewise name order, without '.' and '..', only
   * those strictly after `after` when given (a resume point that stays valid when entries are
   * added or removed, even `after` itself). OVERLAY_NOT_FOUND / OVERLAY_NOT_DIR.
   */
  readdir (path: string, after?: string): AsyncIterable<ViewDirEntry>
  /**
   * At most `limit` of the entries `readdir(path, after)` yields, as one array (one step for a
   * page instead of one per entry), where a view can list that way.
   */
  readdirPage? (path: string, after: string | undefined, limit: number): Promise<ViewDirEntry[]>
  /** A symlink's target. OVERLAY_INVALID when `path` is not a symlink. */
  readlink (path: string): Promise<string>
  /** Bytes [offset, offset+length) of a file, shorter at its end (empty past it). OVERLAY_IS_DIR. */
  read (path: string, offset: number, length: number): Promise<Uint8Array>
  /**
   * The same bytes as `read`, as pieces in order (empty past the end), where a view can hand
   * out its cached chunks without copying them: the pieces may be shared, callers must not
   * modify them.
   */
  readSlices? (path: string, offset: number, length: number): Promise<Uint8Array[]>
  /**
   * The content of file `path` where it lies in an immutable layer (else undefined), to read it
   * again and again without resolving the path each time: valid until the view next changes.
   */
  fileContent? (path: string): Promise<FileContent | undefined>
  close (): Promise<void>
}

/** An immutable file's bytes (ReadView.fileContent); the pieces are shared, callers must not modify them. */
export interface FileContent {
  readonly size: number
  /** What `slices` resolves, when every block it needs is in memory now; else undefined. */
  now (offset: number, length: number): Uint8Array[] | undefined
  /** Bytes [offset, offset+length), clipped at the end, as pieces in order (readSlices). */
  slices (offset: number, length: number): Promise<Uint8Array[]>
}

/**
 * A view with a writable layer. Every mutation is atomic and durable against a crash of the
 * process (kill -9) once it resolves; `sync()` also makes it durable against power loss.
 * Concurrent calls are serialised. Parents are copied up as needed; file copy-up takes the
 * lower file's chunk list, never its bytes.
 */
export interface WriteView extends ReadView {
  /** A new empty regular file. OVERLAY_EXISTS if anything is at `path`. */
  create (path: string, attrs?: CreateAttrs): Promise<Attrs>
  mkdir (path: string, attrs?: CreateAttrs): Promise<Attrs>
  symlink (path: string, target: string, attrs?: CreateAttrs): Promise<Attrs>
  mknod (path: string, kind: 'chardev' | 'blockdev' | 'fifo' | 'socket',
    dev: { major: number, minor: number }, attrs?: CreateAttrs): Promise<Attrs>
  /** A new name for the existing non-directory `existing`. */
  link (existing: string, path: string): Promise<Attrs>
  /** Writes `data` at `offset` of a file, extending it (with zeros over any gap). OVERLAY_IS_DIR, OVERLAY_INVALID for other kinds. */
  write (path: string, offset: number, data: Uint8Array): Promise<Attrs>
  /** chmod, chown, utimes and truncate in one atomic step. */
  setattr (path: string, set: SetAttrs): Promise<Attrs>
  /** Removes a non-directory (a whiteout hides any lower one). OVERLAY_IS_DIR. */
  unlink (path: string): Promise<void>
  /** Removes an empty directory. OVERLAY_NOT_EMPTY, OVERLAY_NOT_DIR; OVERLAY_INVALID for the root. */
  rmdir (path: string): Promise<void>
  /**
   * POSIX rename: replaces a non-directory target, or an empty directory target with a
   * directory. Inode numbers move with the names. Errors in the kernel's order: both parents,
   * then the source; OVERLAY_BAD_PATH for a directory into itself, OVERLAY_NOT_EMPTY onto an
   * ancestor of the source, OVERLAY_CROSS_LAYER between two writable layers (`.mount`: EXDEV).
   */
  rename (from: string, to: string): Promise<void>
  /** Makes everything done so far durable against power loss. */
  sync (): Promise<void>
}
