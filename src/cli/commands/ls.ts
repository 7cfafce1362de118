import { ONE_PASS_CACHE_BYTES } from '../../overlay/block-cache.js'
import type { Entry } from '../../overlay/interface.js'
import { resolvePath } from '../../overlay/posix-resolve.js'
import { openTree, type Tree } from '../../overlay/tree.js'
import type { Command } from '../command.js'
import { openCliStore } from '../store.js'
import { LAYER_HELP, LAYER_OPTIONS, resolveViewRoot } from '../view.js'

interface Listed {
  path: string, name: string, kind: Entry['kind'], mode: string, uid: number, gid: number, size: number,
  mtime: string, target?: string, devMajor?: number, devMinor?: number, hardlink?: string, xattrs?: string[], cid?: string
}

const TYPE_CHAR: Record<Entry['kind'], string> = { file: '-', dir: 'd', symlink: 'l', chardev: 'c', blockdev: 'b', fifo: 'p', socket: 's', whiteout: 'w' }

/** `ls -l` mode text, e.g. drwxr-xr-x, -rwsr-xr-x, drwxrwxrwt. */
export function modeString (kind: Entry['kind'], mode: number): string {
  const rwx = (bits: number, special: boolean, ch: string): string =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? ch : ch.toUpperCase()) : (bits & 1 ? 'x' : '-'))
  return TYPE_CHAR[kind] + rwx(mode >> 6, (mode & 0o4000) !== 0, 's') + rwx(mode >> 3, (mode & 0o2000) !== 0, 's') + rwx(mode, (mode & 0o1000) !== 0, 't')
}

/** Nanosecond epoch time as "YYYY-MM-DD HH:MM:SS.nnnnnnnnn" (UTC). */
export function formatTimeNs (ns: bigint): string {
  const NS = 1_000_000_000n
  const sec = ns >= 0n ? ns / NS : -((-ns + NS - 1n) / NS)
  const iso = new Date(Number(sec) * 1000).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(ns - sec * NS).padStart(9, '0')}`
}

function listed (e: Entry, path: string): Listed {
  const out: Listed = {
    path, name: e.name, kind: e.kind, mode: e.mode.toString(8).padStart(4, '0'), uid: e.uid, gid: e.gid, size: e.size, mtime: formatTimeNs(e.mtimeNs)
  }
  if (e.target !== undefined) out.target = e.target
  if (e.devMajor !== undefined) { out.devMajor = e.devMajor; out.devMinor = e.devMinor }
  if (e.hardlink !== undefined) out.hardlink = e.hardlink
  if (e.xattrs !== undefined) out.xattrs = Object.keys(e.xattrs)
  if (e.cid !== undefined) out.cid = e.cid.toString()
  return out
}

/** The size column: bytes, or "major, minor" of a device. */
const sizeText = (l: Listed): string => l.devMajor !== undefined ? `${l.devMajor}, ${l.devMinor}` : String(l.size)

/** Column widths of one directory's `ls -l` lines. */
interface Widths { owner: number, size: number }

function lineOf (l: Listed, w: Widths): string {
  return `${modeString(l.kind, parseInt(l.mode, 8))} ${`${l.uid} ${l.gid}`.padEnd(w.owner)} ${sizeText(l).padStart(w.size)} ${l.mtime} ${l.name}` +
    (l.target !== undefined ? ` -> ${l.target}` : '') + '\n'
}

/**
 * Writes a listing as it is read. `entries()` lists one directory; it may be called again
 * (a second pass reads the same immutable nodes).
 */
interface ListingSink { directory (path: string, entries: () => AsyncIterable<Listed>): Promise<void>, end (): void }

/** Entries written in batches, so a huge directory is a few hundred writes, not one per entry. */
const WRITE_BATCH = 1024

function jsonSink (write: (text: string) => void, root: string, path: string): ListingSink {
  let first = true
  write(`{"root":${JSON.stringify(root)},"path":${JSON.stringify(path)},"entries":[`)
  return {
    async directory (_path, entries) {
      let batch: string[] = []
      const flush = (): void => { write((first ? '' : ',') + batch.join(',')); first = false; batch = [] }
      for await (const l of entries()) if (batch.push(JSON.stringify(l)) === WRITE_BATCH) flush()
      if (batch.length > 0) flush()
    },
    end () { write(']}\n') }
  }
}

/**
 * Like ls -l, and like ls -lR with a `DIR:` heading per directory. Two passes over each
 * directory, the first for its column widths, so no directory is ever held in memory.
 */
function textSink (write: (text: string) => void, headings: boolean): ListingSink {
  let first = true
  return {
    async directory (path, entries) {
      const w: Widths = { owner: 0, size: 0 }
      for await (const l of entries()) { w.owner = Math.max(w.owner, `${l.uid} ${l.gid}`.length); w.size = Math.max(w.size, sizeText(l).length) }
      if (headings) write(`${first ? '' : '\n'}${path}:\n`)
      first = false
      let batch = ''
      let n = 0
      for await (const l of entries()) {
        batch += lineOf(l, w)
        if (++n % WRITE_BATCH === 0) { write(batch); batch = '' }
      }
      if (batch !== '') write(batch)
    },
    end () {}
  }
}

/**
 * Lists `dir` into `sink`, then (with -R) each subdirectory the same way, depth first in name
 * order as ls -R does. Only the names of a directory's subdirectories wait, never its entries.
 */
async function list (tree: Tree, dir: Entry, path: string, recursive: boolean, sink: ListingSink): Promise<void> {
  const childPath = (name: string): string => path === '/' ? `/${name}` : `${path}/${name}`
  async function * entries (): AsyncGenerator<Listed> {
    for await (const e of tree.readdir(dir)) yield listed(e, childPath(e.name))
  }
  await sink.directory(path, entries)
  if (!recursive) return
  const subdirs: Array<[Entry, string]> = []
  for await (const e of tree.readdir(dir)) if (e.kind === 'dir') subdirs.push([e, childPath(e.name)])
  for (const [e, p] of subdirs) await list(tree, e, p, recursive, sink)
}

function one (l: Listed): () => AsyncGenerator<Listed> { return async function * () { yield l } }

const command: Command = {
  summary: 'list a directory of a tree (long format, like ls -l)',
  usage: 'ROOT[:PATH] [-R] | [PATH] --layer L ... [-R]',
  help: 'ROOT is a CID or a pin name; PATH defaults to /. Columns: mode, uid gid, size (or\nmajor, minor), mtime (UTC, ns), name. -R lists subdirectories too, each under a\n"DIR:" heading. --json gives every field: {"root", "path", "entries": [...]}. The listing\nis written as it is read, so a directory of any size lists in little memory.\n' + LAYER_HELP,
  options: { recursive: { type: 'boolean', short: 'R' }, ...LAYER_OPTIONS },
  minArgs: 0,
  maxArgs: 1,
  streams: true,
  async run (ctx): Promise<undefined> {
    await using store = await openCliStore(ctx)
    const { root, path } = await resolveViewRoot(store, ctx.options, ctx.positionals[0])
    // Each directory is read once, in order (twice for its widths): a small node cache does.
    const tree = openTree(store, root, { cacheBytes: ONE_PASS_CACHE_BYTES })
    const { entry, path: at } = await resolvePath(tree, path, false)
    const recursive = ctx.options.recursive === true
    const sink = ctx.json ? jsonSink((t) => { ctx.write(t) }, root.toString(), at) : textSink((t) => { ctx.write(t) }, recursive && entry.kind === 'dir')
    if (entry.kind === 'dir') await list(tree, entry, at, recursive, sink)
    else await sink.directory(at, one(listed(entry, at)))
    sink.end()
    return undefined
  }
}

export default command
