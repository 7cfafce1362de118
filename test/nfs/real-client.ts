import { execFile } from 'node:child_process'
import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

/** Helpers to drive libnfs-utils (nfs-ls, nfs-cat, nfs-cp) against a test server. */

const run = promisify(execFile)

export function nfsUrl (port: number, path: string, mountPort = port): string {
  return `nfs://127.0.0.1${path}?version=3&nfsport=${port}&mountport=${mountPort}`
}

/** Runs a libnfs tool; resolves stdout (as a Buffer for nfs-cat) or rejects with its stderr. */
export async function libnfs (tool: 'nfs-ls' | 'nfs-cat' | 'nfs-cp', args: string[]): Promise<Buffer> {
  const { stdout } = await run(tool, args, { encoding: 'buffer', timeout: 60_000, maxBuffer: 1 << 30 })
  return stdout
}

/** Exit code and stderr of a libnfs tool that is expected to fail. */
export async function libnfsFailure (tool: 'nfs-ls' | 'nfs-cat' | 'nfs-cp', args: string[]): Promise<{ code: number, stderr: string }> {
  try {
    await run(tool, args, { encoding: 'utf8', timeout: 60_000 })
  } catch (err) {
    const e = err as { code?: number, stderr?: string, stdout?: string }
    return { code: Number(e.code ?? -1), stderr: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
  return { code: 0, stderr: '' }
}

/** One `nfs-ls -R` line reduced to what we compare: type+permissions, uid, gid, size, path. */
export function lsKey (fields: { kind: string, mode: number, uid: number, gid: number, size: number | bigint, path: string }): string {
  const typeChar: Record<string, string> = { dir: 'd', file: '-', symlink: 'l', chardev: 'c', blockdev: 'b', fifo: '', socket: '' }
  let perms = ''
  for (let i = 8; i >= 0; i--) perms += (fields.mode & (1 << i)) !== 0 ? 'rwx'[(8 - i) % 3] : '-'
  return `${typeChar[fields.kind] ?? '?'}${perms} ${fields.uid} ${fields.gid} ${fields.size} ${fields.path}`
}

/** Parses `nfs-ls -R` output into lsKey strings (nlink dropped). */
export function parseLs (out: string): string[] {
  return out.split('\n').filter((l) => l.trim().length > 0).map((l) => {
    const [mode, , uid, gid, size, ...name] = l.trim().split(/\s+/)
    return `${mode} ${uid} ${gid} ${size} ${name.join(' ')}`
  }).sort()
}

/** lsKey lines of a local tree, as nfs-ls -R should print it. */
export async function localLs (root: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const name of await readdir(join(root, rel))) {
    const p = rel === '' ? name : `${rel}/${name}`
    const st = await lstat(join(root, p))
    const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'chardev' : st.isBlockDevice() ? 'blockdev' : 'socket'
    out.push(lsKey({ kind, mode: st.mode & 0o777, uid: st.uid, gid: st.gid, size: st.isDirectory() ? 'DIR' as unknown as number : st.size, path: p }))
    if (st.isDirectory()) out.push(...await localLs(root, p))
  }
  return out.sort()
}

/** Drops the size of directory lines (it depends on the file-system underneath). */
export function withoutDirSizes (lines: string[]): string[] {
  return lines.map((l) => l.startsWith('d') ? l.replace(/^(\S+ \S+ \S+) \S+ /, '$1 DIR ') : l).sort()
}
