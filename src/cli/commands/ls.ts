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

/** One JSON value of the listing, as printJson would write it. */
function jsonText (l: Listed): string { return JSON.stringify(l) }

/** `ls -l` lines of one directory's entries, columns as wide as the widest cell. */
function renderLines (entries: Listed[]): string[] {
  const size = (l: Listed): string => l.devMajor !== undefined ? `${l.devMajor}, ${l.devMinor}` : String(l.size)
  let wOwner = 0
  let wSize = 0
  for (const l of entries) { wOwner = Math.max(wOwner, `${l.uid} ${l.gid}`.length); wSize = Math.max(wSize, size(l).length) }
  return entries.map((l) => `${modeString(l.kind, parseInt(l.mode, 8))} ${`${l.uid} ${l.gid}`.padEnd(wOwner)} ${size(l).padStart(wSize)} ${l.mtime} ${l.name}` +
    (l.target !== undefined ? ` -> ${l.target}` : ''))
}

/** Writes a listing as it is read: whole JSON lines, or one directory's `ls -l` lines at a time. */
interface ListingSink { directory (path: string, entries: AsyncIterable<Listed>): Promise<void>, end (): void }

function jsonSink (write: (text: string) => void, root: string, path: string): ListingSink {
  let first = true
  write(`{"root":${JSON.stringify(root)},"path":${JSON.stringify(path)},"entries":[`)
  return {
    async directory (_path, entries) {
      // Batched so a huge directory is a few thousand writes, not one per entry.
      let batch: string[] = []
      for await (const l of entries) {
        batch.push(jsonText(l))
        if (batch.length === 1024) { write((first ? '' : ',') + batch.join(',')); first = false; batch = [] }
      }
      if (batch.length > 0) { write((first ? '' : ',') + batch.join(',')); first = false }
    },
    end () { write(']}\n') }
  }
}

/** Like ls -l, and like ls -lR with a `DIR:` heading per directory (one directory is held at a time, for its column widths). */
function textSink (write: (text: string) => void, headings: boolean): ListingSink {
  let first = true
  return {
    async directory (path, entries) {
      const list: Listed[] = []
      for await (const l of entries) list.push(l)
      const lines = renderLines(list)
      const text = headings ? `${first ? '' : '\n'}${path}:\n${lines.map((l) => l + '\n').join('')}` : lines.map((l) => l + '\n').join('')
      first = false
      if (text !== '') write(text)
    },
    end () {}
  }
}

/**
 * Lists `dir` into `sink`, then (with -R) each subdirectory the same way, depth first in name
 * order as ls -R does. Only the names of a directory's subdirectories wait, never its entries.
 */
async function list (tree: Tree, dir: Entry, path: string, recursive: boolean, sink: ListingSink): Promise<void> {
  const subdirs: Array<[Entry, string]> = []
  const childPath = (name: string): string => path === '/' ? `/${name}` : `${path}/${name}`
  async function * entries (): AsyncGenerator<Listed> {
    for await (const e of tree.readdir(dir)) {
      const p = childPath(e.name)
      if (recursive && e.kind === 'dir') subdirs.push([e, p])
      yield listed(e, p)
    }
  }
  await sink.directory(path, entries())
  for (const [e, p] of subdirs) await list(tree, e, p, recursive, sink)
}

async function * one (l: Listed): AsyncGenerator<Listed> { yield l }

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
    const tree = openTree(store, root)
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
