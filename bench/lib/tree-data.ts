import { closeSync, openSync, readSync } from 'node:fs'
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Regular files of a tree (no symlinks followed), in a stable order, each hard-linked inode once. */
export async function listFiles (root: string): Promise<{ path: string, size: number }[]> {
  const out: { path: string, size: number }[] = []
  const seen = new Set<string>()
  const walk = async (dir: string): Promise<void> => {
    const names = (await readdir(dir)).sort()
    for (const name of names) {
      const path = join(dir, name)
      const st = await lstat(path)
      if (st.isDirectory()) await walk(path)
      else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`
        if (seen.has(key)) continue
        seen.add(key)
        out.push({ path, size: st.size })
      }
    }
  }
  await walk(root)
  return out
}

/**
 * Reads every regular file of `root` once, so that what follows runs with a warm page cache
 * (the issues' measuring condition). Returns the bytes read.
 */
export async function warmPageCache (root: string): Promise<number> {
  return readFilesSync((await listFiles(root)).map((f) => f.path)) // in 1 MiB pieces: files of any size
}

/**
 * The tree's file contents, concatenated file by file up to `limitBytes` (whole files only,
 * at least one), as sample data for the raw-limit measurements. Real data, not random bytes:
 * what zstd and the chunker see during an import.
 */
export async function sampleTreeBytes (root: string, limitBytes: number): Promise<{ files: Uint8Array[], bytes: number }> {
  const files: Uint8Array[] = []
  let bytes = 0
  for (const f of await listFiles(root)) {
    if (bytes > 0 && bytes + f.size > limitBytes) continue
    const data = await readFile(f.path)
    files.push(data)
    bytes += data.length
  }
  return { files, bytes }
}

/**
 * Reads every listed file through one reused 1 MiB buffer with synchronous calls: the least a
 * single thread of this process pays to read the tree (the "read alone" raw limit).
 * Returns the bytes read.
 */
export function readFilesSync (paths: readonly string[]): number {
  const buf = Buffer.allocUnsafe(1 << 20)
  let bytes = 0
  for (const path of paths) {
    const fd = openSync(path, 'r')
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, null)
        if (n === 0) break
        bytes += n
      }
    } finally {
      closeSync(fd)
    }
  }
  return bytes
}
