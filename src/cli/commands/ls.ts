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
interface LsResult { root: string, path: string, entries: Listed[] }

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

async function collect (tree: Tree, dir: Entry, path: string, recursive: boolean, out: Listed[]): Promise<void> {
  const subdirs: Array<[Entry, string]> = []
  for await (const e of tree.readdir(dir)) {
    const p = path === '/' ? `/${e.name}` : `${path}/${e.name}`
    out.push(listed(e, p))
    if (recursive && e.kind === 'dir') subdirs.push([e, p])
  }
  for (const [e, p] of subdirs) await collect(tree, e, p, recursive, out)
}

function renderLines (entries: Listed[]): string[] {
  const size = (l: Listed): string => l.devMajor !== undefined ? `${l.devMajor}, ${l.devMinor}` : String(l.size)
  const wOwner = Math.max(0, ...entries.map((l) => `${l.uid} ${l.gid}`.length))
  const wSize = Math.max(0, ...entries.map((l) => size(l).length))
  return entries.map((l) => `${modeString(l.kind, parseInt(l.mode, 8))} ${`${l.uid} ${l.gid}`.padEnd(wOwner)} ${size(l).padStart(wSize)} ${l.mtime} ${l.name}` +
    (l.target !== undefined ? ` -> ${l.target}` : ''))
}

const command: Command = {
  summary: 'list a directory of a tree (long format, like ls -l)',
  usage: 'ROOT[:PATH] [-R] | [PATH] --layer L ... [-R]',
  help: 'ROOT is a CID or a pin name; PATH defaults to /. Columns: mode, uid gid, size (or\nmajor, minor), mtime (UTC, ns), name. -R lists subdirectories too. --json gives every field.\n' + LAYER_HELP,
  options: { recursive: { type: 'boolean', short: 'R' }, ...LAYER_OPTIONS },
  minArgs: 0,
  maxArgs: 1,
  async run (ctx): Promise<LsResult> {
    await using store = await openCliStore(ctx)
    const { root, path } = await resolveViewRoot(store, ctx.options, ctx.positionals[0])
    const tree = openTree(store, root)
    const { entry, path: at } = await resolvePath(tree, path, false)
    const entries: Listed[] = []
    if (entry.kind === 'dir') await collect(tree, entry, at, ctx.options.recursive === true, entries)
    else entries.push(listed(entry, at))
    return { root: root.toString(), path: at, entries }
  },
  human (r: LsResult): string {
    const byDir = new Map<string, Listed[]>()
    for (const l of r.entries) {
      const dir = l.path.slice(0, l.path.lastIndexOf('/')) || '/'
      byDir.set(dir, [...(byDir.get(dir) ?? []), l])
    }
    if (byDir.size <= 1) return renderLines(r.entries).join('\n')
    return [...byDir].map(([dir, list]) => `${dir}:\n${renderLines(list).join('\n')}`).join('\n\n')
  }
}

export default command
