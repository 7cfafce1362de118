import type { Entry } from './interface.js'

/**
 * One layer of a union, top first in a stack. An immutable Tree (tree.ts) is one as it is;
 * the writable layer (writable.ts) is another. Entries are the layer's own: a layer only
 * understands entries it handed out itself.
 */
export interface UnionLayer {
  /** The layer's root directory entry, or undefined for a layer that holds nothing yet. */
  rootEntry (): Promise<Entry | undefined>
  /** The child `name` of directory entry `dir` (a whiteout entry included), or undefined. */
  lookup (dir: Entry, name: string): Promise<Entry | undefined>
  /** Entries of directory `dir` in bytewise name order, strictly after `after` if given. */
  readdir (dir: Entry, after?: string): AsyncIterable<Entry>
  /** Bytes [offset, offset+length) of file entry `file`, clipped at its end. */
  read (file: Entry, offset: number, length: number): Promise<Uint8Array>
}

/** A layer's directory entry (or a file's) that a lookup went through. */
export interface Source { readonly layer: UnionLayer, readonly entry: Entry }

/**
 * Where writes to a directory go: the writable layer and the directory's path inside it
 * (which differs from the union path under a `.mount` point).
 */
export interface UpperTarget<W = unknown> { readonly layer: W, readonly rel: readonly string[] }

/**
 * A resolved union path. `entry` is the visible object (the top layer's). For a directory,
 * `sources` are the directories merged into it, top first (lower layers cut at an opaque
 * directory, a whiteout or a non-directory); for anything else, the one source.
 */
export interface Resolved<W = unknown> {
  readonly names: readonly string[]
  readonly entry: Entry
  readonly sources: readonly Source[]
  /** Where writes at this path go; undefined under a read-only subtree. */
  readonly upper?: UpperTarget<W>
  /** The `.mount` nesting depth at this path (0 outside any mount). */
  readonly mountDepth: number
  /** URLs mounted on the way here (cycle detection, mount.ts). */
  readonly mounted?: readonly string[]
}
