import type { CID } from 'multiformats/cid'

/** What a directory entry is. `whiteout` only appears in overlays: it hides the name below. */
export type EntryKind = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket' | 'whiteout'

/**
 * One name in a directory, with all of the child's metadata (the child's own node holds only
 * content), so a chmod or chown changes one directory node and stores no content again.
 */
export interface Entry {
  readonly name: string
  readonly kind: EntryKind
  /** Permission and special bits (0o7777: setuid, setgid, sticky, rwx), no file-type bits. */
  readonly mode: number
  readonly uid: number
  readonly gid: number
  /** Modification time in nanoseconds since the epoch. */
  readonly mtimeNs: bigint
  /** Content bytes of a file; length of a symlink's target; 0 for the rest. */
  readonly size: number
  /**
   * File: a raw chunk (one-chunk files) or a file index node; absent when the file is empty.
   * Dir: the directory node. Absent for every other kind.
   */
  readonly cid?: CID
  /** Symlink target. */
  readonly target?: string
  /** Character and block devices. */
  readonly devMajor?: number
  readonly devMinor?: number
  /** Extended attributes, e.g. `security.capability`, `user.*`. */
  readonly xattrs?: Readonly<Record<string, Uint8Array>>
  /** Directory only: hides everything below this directory in lower layers. */
  readonly opaque?: boolean
  /**
   * Hard links: every member of a group of hard-linked files carries the tree-relative path
   * (no leading slash) of the group's first member in depth-first name order, the leader
   * included. Absent for files with one link.
   */
  readonly hardlink?: string
}

/** A child reference in a file index: `cid` is a raw chunk or another file index node. */
export interface FilePart { readonly cid: CID, readonly size: number }

/** A directory node: either its entries, or (large directories) shards of entries. */
export type DirNode =
  | { readonly type: 'entries', readonly entries: readonly Entry[] }
  | { readonly type: 'shards', readonly shards: readonly DirShard[] }

/** A shard of a split directory: `first` is the name of its first entry. */
export interface DirShard { readonly first: string, readonly cid: CID }

/** The root of a tree: format version and the root directory's entry (name ''). */
export interface TreeRoot { readonly version: 1, readonly root: Entry }

/** Where tree nodes and chunks come from: a ChunkReader of any codec (see cas/interface.ts). */
export type { ChunkReader as BlockReader } from '../cas/interface.js'
