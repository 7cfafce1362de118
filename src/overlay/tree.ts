import type { CID } from 'multiformats/cid'
import type { ChunkReader } from '../cas/interface.js'
import { DecodedCache, getRequired } from './block-cache.js'
import { decodeTreeRoot } from './codec.js'
import { DirReader } from './dir-read.js'
import { IsDirError, NotDirError, NotFoundError } from './errors.js'
import { FileReader, type ChunkSpan } from './file-read.js'
import type { Entry } from './interface.js'
import { joinPath, splitPath } from './path.js'

export interface TreeOptions {
  /** Decoded nodes kept in memory (per node kind). */
  cacheSize?: number
  /** Encoded bytes of the nodes kept decoded (per node kind; block-cache.ts DEFAULT_CACHE_BYTES). */
  cacheBytes?: number
}

const rootCache = new DecodedCache<Entry>(256)

/**
 * Read access to one immutable tree. Paths are tree paths ('/etc/passwd'); no symlink is
 * followed (lstat semantics). Absence resolves `undefined`; a missing block of the tree
 * rejects CAS_CHUNK_MISSING, a malformed node OVERLAY_BAD_NODE.
 */
export class Tree {
  readonly root: CID
  readonly reader: ChunkReader
  readonly dirs: DirReader
  readonly files: FileReader
  #rootEntry: Entry | undefined

  constructor (reader: ChunkReader, root: CID, options: TreeOptions = {}) {
    this.reader = reader
    this.root = root
    this.dirs = new DirReader(reader, options.cacheSize, options.cacheBytes)
    this.files = new FileReader(reader, options.cacheSize, options.cacheBytes)
  }

  /** The root directory's entry (name ''). */
  async rootEntry (): Promise<Entry> {
    if (this.#rootEntry !== undefined) return this.#rootEntry
    const key = this.root.toString()
    let entry = rootCache.get(key)
    if (entry === undefined) {
      entry = decodeTreeRoot(await getRequired(this.reader, this.root)).root
      rootCache.set(key, entry)
    }
    this.#rootEntry = entry
    return entry
  }

  /** The entry at `path`, or undefined. Rejects OVERLAY_NOT_DIR if a non-final name is not a directory. */
  async stat (path: string | readonly string[]): Promise<Entry | undefined> {
    const names = typeof path === 'string' ? splitPath(path) : path
    let entry = await this.rootEntry()
    for (let i = 0; i < names.length; i++) {
      if (entry.kind !== 'dir') throw new NotDirError(joinPath(names.slice(0, i)))
      const next = await this.lookup(entry, names[i])
      if (next === undefined) return undefined
      entry = next
    }
    return entry
  }

  /** Like stat, but absence rejects OVERLAY_NOT_FOUND. */
  async statRequired (path: string | readonly string[]): Promise<Entry> {
    const entry = await this.stat(path)
    if (entry === undefined) throw new NotFoundError(typeof path === 'string' ? path : joinPath(path))
    return entry
  }

  /** The child `name` of directory entry `dir`, or undefined. */
  async lookup (dir: Entry, name: string): Promise<Entry | undefined> {
    if (dir.kind !== 'dir' || dir.cid === undefined) throw new NotDirError(dir.name)
    return await this.dirs.lookup(dir.cid, name)
  }

  /** The entries of directory entry `dir` in name order, optionally after a resume name. */
  readdir (dir: Entry, after?: string): AsyncIterable<Entry> {
    if (dir.kind !== 'dir' || dir.cid === undefined) throw new NotDirError(dir.name)
    return this.dirs.list(dir.cid, after)
  }

  /** Bytes [offset, offset+length) of file entry `file`, clipped at its end. */
  async read (file: Entry, offset: number, length: number): Promise<Uint8Array> {
    if (file.kind === 'dir') throw new IsDirError(file.name)
    return await this.files.read(file.cid, file.size, offset, length)
  }

  /** The whole content of file entry `file`, as verified chunks in order. */
  readFile (file: Entry): AsyncIterable<Uint8Array> {
    if (file.kind === 'dir') throw new IsDirError(file.name)
    return this.files.stream(file.cid, file.size)
  }

  /** The raw chunks of a file entry, with their offsets (for copy-up and prefetch). */
  spans (file: Entry): AsyncIterable<ChunkSpan> {
    return this.files.spans(file.cid, file.size)
  }

  /**
   * Every entry below `dir` (depth-first, name order) with its tree path, directories before
   * their contents.
   */
  async * walk (dir?: Entry, prefix = ''): AsyncIterable<{ path: string, entry: Entry }> {
    const start = dir ?? await this.rootEntry()
    for await (const entry of this.readdir(start)) {
      const path = `${prefix}/${entry.name}`
      yield { path, entry }
      if (entry.kind === 'dir') yield * this.walk(entry, path)
    }
  }
}

/** Opens a tree for reading. Cheap: nothing is read until used. */
export function openTree (reader: ChunkReader, root: CID, options?: TreeOptions): Tree {
  return new Tree(reader, root, options)
}
