import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { measure, type Measurement } from './measure.js'
import { treeSize } from './size.js'

const run = promisify(execFile)

/** One peer tool's import ("ingest") of a tree into a store. */
export interface IngestRun {
  readonly tool: string
  /** The timed command, as run (set-up commands such as `borg init` are not timed). */
  readonly command: string
  readonly measurement: Measurement
  /** Sum of the file sizes in the store after the import (what the issues call store bytes). */
  readonly storeBytes: number
  readonly storeFiles: number
  /** What this tool could not take from the tree, if anything (e.g. device nodes for ostree). */
  readonly note?: string
}

/**
 * Imports `tree` into the store under `work` (an empty directory the caller removes), creating
 * the store on the first call; a later call with the same `work` adds to that store, so the
 * second import of a tree (or of an upgraded copy) shows what the tool stores again.
 * `storeBytes` is the whole store after the call.
 */
export type Ingester = (tree: string, work: string) => Promise<IngestRun>

let serial = 0
/** A name no earlier call used (archive, index and branch names must differ per import). */
function nextName (prefix: string): string {
  serial++
  return `${prefix}${serial}`
}

async function storeFigures (dir: string): Promise<{ storeBytes: number, storeFiles: number }> {
  const s = await treeSize(dir)
  return { storeBytes: s.bytes, storeFiles: s.files }
}

/**
 * `casync make` with its defaults (64 KiB average chunks, zstd, SHA-512/256, --with=best):
 * a .caidx index plus a chunk store; store bytes count both.
 */
export const casyncMake: Ingester = async (tree, work) => {
  const store = join(work, 'store')
  await mkdir(store, { recursive: true })
  const argv = ['casync', 'make', `--store=${join(store, 'default.castr')}`, join(store, `${nextName('tree')}.caidx`), tree]
  const measurement = await measure(argv)
  return { tool: 'casync make', command: argv.join(' '), measurement, ...await storeFigures(store) }
}

/**
 * `borg create` into a fresh unencrypted repository (borg's default lz4 compression and
 * buzhash chunker). BORG_BASE_DIR points into `work`, so the files cache starts empty; the
 * cache there is not counted as store.
 */
export const borgCreate: Ingester = async (tree, work) => {
  const repo = join(work, 'repo')
  const env = { BORG_BASE_DIR: join(work, 'borg-base'), BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes' }
  if (!existsSync(repo)) await run('borg', ['init', '--encryption=none', repo], { env: { ...process.env, ...env } })
  const argv = ['borg', 'create', `${repo}::${nextName('a')}`, '.']
  const measurement = await measure(argv, { cwd: tree, env })
  return { tool: 'borg create', command: argv.join(' '), measurement, ...await storeFigures(repo) }
}

/**
 * `restic backup` into a fresh repository, format version 2 (zstd, compression "auto"), with
 * its cache in `work` (not counted as store).
 */
export const resticBackup: Ingester = async (tree, work) => {
  const repo = join(work, 'repo')
  const env = { RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: join(work, 'cache') }
  if (!existsSync(repo)) await run('restic', ['init', '--repository-version', '2', '--repo', repo], { env: { ...process.env, ...env } })
  const argv = ['restic', 'backup', '--quiet', '--repo', repo, '.']
  const measurement = await measure(argv, { cwd: tree, env })
  return { tool: 'restic backup', command: argv.join(' '), measurement, ...await storeFigures(repo) }
}

/**
 * `ostree commit` into a fresh archive-mode repository (zlib-compressed objects, the mode used
 * to serve over HTTP). ostree cannot store device nodes, fifos or sockets, and its --skip-list
 * does not get past its file-type check, so it commits a hard-linked copy (cp -al) of the tree
 * without them; the copy is made before timing and shares every file's pages.
 */
export const ostreeCommit: Ingester = async (tree, work) => {
  const repo = join(work, 'repo')
  if (!existsSync(repo)) await run('ostree', ['init', `--repo=${repo}`, '--mode=archive'])
  const view = join(work, 'tree')
  await run('cp', ['-al', tree, view])
  const { stdout } = await run('find', [view, '(', '-type', 'b', '-o', '-type', 'c', '-o', '-type', 'p', '-o', '-type', 's', ')', '-print', '-delete'])
  const skipped = stdout.split('\n').filter((l) => l !== '').length
  try {
    const argv = ['ostree', 'commit', `--repo=${repo}`, '--branch=bench', `--tree=dir=${view}`]
    const measurement = await measure(argv)
    return {
      tool: 'ostree commit',
      command: argv.join(' '),
      measurement,
      ...await storeFigures(repo),
      note: skipped > 0 ? `${skipped} device nodes/fifos/sockets left out (ostree cannot store them)` : undefined
    }
  } finally {
    // Drop the extra links at once so later runs see the tree's true link counts.
    await rm(view, { recursive: true, force: true })
  }
}

/** The peers of bench/ingest, in the order they run. */
export const INGEST_PEERS: readonly Ingester[] = [casyncMake, borgCreate, resticBackup, ostreeCommit]

/** `TOOL --version` (first line), or 'unknown'. */
export async function toolVersion (tool: string): Promise<string> {
  const args = tool === 'restic' ? ['version'] : ['--version']
  try {
    const { stdout } = await run(tool, args)
    const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '')
    // ostree prints a YAML block: "libostree:", " Version: '2022.7'", ...
    const version = lines.find((l) => l.startsWith('Version:'))
    if (version !== undefined) return `${tool} ${version.slice(8).trim().replaceAll("'", '')}`
    return lines[0] ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

export { casyncDeploy, ostreeDeploy, rsyncDeploy, zstdFloor, type DeployOptions, type DeployRun } from './deploy-peers.js'
