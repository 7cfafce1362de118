import type { CID } from 'multiformats/cid'
import type { AbortOptions, ChunkReader } from '../cas/interface.js'
import { ONE_PASS_CACHE_BYTES } from './block-cache.js'
import { encodeTarHeader, TAR_END, tarPadding, type TarHeader } from './export-tar-header.js'
import type { Entry } from './interface.js'
import { subtree } from './export-dir.js'
import { openTree, type Tree } from './tree.js'

export interface ExportTarOptions extends AbortOptions {
  /** Progress: content bytes emitted so far. */
  readonly onBytes?: (n: number) => void
  /** Export only the directory at this tree path (default '/': the whole tree). */
  readonly path?: string
  /** Called for entries a tar cannot hold (sockets), with their tree path. */
  readonly onSkip?: (path: string, entry: Entry) => void
}

const TYPE: Partial<Record<Entry['kind'], string>> = { file: '0', symlink: '2', chardev: '3', blockdev: '4', dir: '5', fifo: '6', whiteout: '3' }

/**
 * The tree `root` (or its directory `options.path`) as a POSIX (pax) tar stream: members in depth-first name order, each
 * directory before its contents, paths `./…` like `tar -C DIR -c .`; nanosecond mtimes and
 * xattrs (SCHILY.xattr.*) in PAX headers; hard links as link members to their leader.
 * Sockets cannot be in a tar: they are left out (reported through `onSkip`); whiteouts
 * become 0/0 character devices. The yielded arrays belong to the consumer. Rejects
 * CAS_CHUNK_MISSING / OVERLAY_BAD_NODE for a broken tree.
 */
export async function * exportTar (reader: ChunkReader, root: CID, options: ExportTarOptions = {}): AsyncIterable<Uint8Array> {
  const tree = openTree(reader, root, { cacheBytes: ONE_PASS_CACHE_BYTES })
  const top = await subtree(tree, options.path)
  yield encodeTarHeader(header(top, './', '5', 0))
  yield * members(tree, top, '', new Map(), options)
  yield TAR_END
}

function header (e: Entry, path: string, type: string, size: number, linkname?: string): TarHeader {
  return {
    path, type, mode: e.mode, uid: e.uid, gid: e.gid, mtimeNs: e.mtimeNs, size, linkname,
    devMajor: e.devMajor, devMinor: e.devMinor, xattrs: e.xattrs
  }
}

/** `firsts`: per hard-link group (by leader path), the archive path of its first member here. */
async function * members (tree: Tree, dir: Entry, rel: string, firsts: Map<string, string>, options: ExportTarOptions): AsyncIterable<Uint8Array> {
  for await (const e of tree.readdir(dir)) {
    options.signal?.throwIfAborted()
    const path = rel === '' ? e.name : `${rel}/${e.name}`
    const type = TYPE[e.kind]
    if (type === undefined) { options.onSkip?.(path, e); continue }
    if (e.kind === 'dir') {
      yield encodeTarHeader(header(e, `./${path}/`, '5', 0))
      yield * members(tree, e, path, firsts, options)
    } else if (e.kind === 'file' && e.hardlink !== undefined && firsts.has(e.hardlink)) {
      yield encodeTarHeader(header(e, `./${path}`, '1', 0, firsts.get(e.hardlink)))
    } else if (e.kind === 'file') {
      if (e.hardlink !== undefined) firsts.set(e.hardlink, `./${path}`)
      yield encodeTarHeader(header(e, `./${path}`, '0', e.size))
      for await (const chunk of tree.readFile(e)) {
        options.onBytes?.(chunk.length)
        yield chunk
      }
      yield tarPadding(e.size)
    } else if (e.kind === 'whiteout') {
      yield encodeTarHeader({ ...header(e, `./${path}`, '3', 0), devMajor: 0, devMinor: 0 })
    } else {
      yield encodeTarHeader(header(e, `./${path}`, type, 0, e.kind === 'symlink' ? e.target : undefined))
    }
  }
}
