import { realpathSync } from 'node:fs'
import { ImportError } from './errors.js'
import { posix, SCAN, SCAN_FIELDS, type ScanResult } from './posix.js'

/** The real path of an import source (it may be a symlink to the directory). Rejects ImportError. */
export function resolveSource (input: string): string {
  try {
    return realpathSync(input)
  } catch (err) {
    throw new ImportError(`cannot read ${input}`, { cause: err })
  }
}

/**
 * Bytes of regular-file content under `dir` (each hard-linked inode once), from one quick
 * walk: a progress bar's total. Rejects ImportError like importDirectory.
 */
export function measureTree (dir: string): { files: number, bytes: number } {
  const P = posix()
  const seen = new Set<string>()
  const out = { files: 0, bytes: 0 }
  const walk = (path: string): void => {
    let scan: ScanResult
    try { scan = P.scandir(path) } catch (err) { throw new ImportError(`cannot read directory ${path}`, { cause: err }) }
    for (let i = 0; i < scan.names.length; i++) {
      const b = i * SCAN_FIELDS
      const type = scan.stats[b + SCAN.MODE] & 0o170000
      if (type === 0o040000) walk(path + '/' + scan.names[i])
      if (type !== 0o100000) continue
      if (scan.stats[b + SCAN.NLINK] > 1) {
        const key = `${scan.stats[b + SCAN.DEV_HI]}:${scan.stats[b + SCAN.DEV_LO]}:${scan.stats[b + SCAN.INO_HI]}:${scan.stats[b + SCAN.INO_LO]}`
        if (seen.has(key)) continue
        seen.add(key)
      }
      out.files++
      out.bytes += scan.stats[b + SCAN.SIZE]
    }
  }
  walk(resolveSource(dir))
  return out
}

