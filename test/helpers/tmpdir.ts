import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir as osTmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh empty directory under the OS temp dir. */
export async function tmpdir (prefix = 'xeno-test-'): Promise<string> {
  return await mkdtemp(join(osTmpdir(), prefix))
}

/** Removes a directory tree; ignores absence. */
export async function rmrf (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}
