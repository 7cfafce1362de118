import { execFile, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { blake3Digest } from '../../src/cas/hasher.js'
import { startStaticServer } from './http-static.js'
import { measure, type Measurement } from './measure.js'
import { listFiles } from './tree-data.js'

const run = promisify(execFile)

/**
 * One peer's transfer that brings a machine holding `base` to `target` (bench/deploy-bytes,
 * issue 4). Set-up (building the peer's server-side store, seeding the client) is not timed
 * and not counted; only the fetch is.
 */
export interface DeployRun {
  readonly tool: string
  readonly command: string
  /** Bytes on the wire, both directions (TCP payload for HTTP peers, rsync's protocol bytes). */
  readonly wireBytes: number
  /** HTTP requests, or undefined when the protocol has none (rsync: one session). */
  readonly requests: number | undefined
  readonly measurement: Measurement
  readonly note?: string
}

export interface DeployOptions {
  /** The tree the client already holds (e.g. /work/data/t1). */
  readonly base: string
  /** The tree to bring it to (e.g. /work/data/t1-apache). */
  readonly target: string
  /** An empty scratch directory on the same file-system as the trees; the caller removes it. */
  readonly work: string
}

/**
 * `casync extract --seed=BASE` of the target's index over HTTP (casync-http, one GET per
 * missing chunk), from a chunk store made with `casync make` defaults and served by a counting
 * static server on loopback. The seed is the base tree, as on a server that holds it.
 */
export async function casyncDeploy ({ base, target, work }: DeployOptions): Promise<DeployRun> {
  const srv = join(work, 'casync-srv')
  await run('mkdir', ['-p', srv])
  await run('casync', ['make', `--store=${join(srv, 'default.castr')}`, join(srv, 'target.caidx'), target])
  const server = await startStaticServer(srv)
  try {
    const argv = ['casync', 'extract', `--store=${server.url}/default.castr`, `--seed=${base}`,
      `${server.url}/target.caidx`, join(work, 'casync-out')]
    const measurement = await measure(argv)
    const c = server.counts()
    return { tool: 'casync extract --seed (HTTP)', command: argv.join(' '), wireBytes: c.wireBytes, requests: c.requests, measurement }
  } finally {
    await server.close()
  }
}

/** `rsync -aHAX --delete -z` from the target onto a copy of the base; bytes from --stats. */
export async function rsyncDeploy ({ base, target, work }: DeployOptions, compress = true): Promise<DeployRun> {
  const dest = join(work, 'rsync-dest')
  await run('cp', ['-a', base, dest])
  const argv = ['rsync', '-aHAX', '--numeric-ids', '--delete', ...(compress ? ['-z'] : []), '--stats', `${target}/`, `${dest}/`]
  const measurement = await measure(argv)
  const num = (label: string): number => {
    const m = new RegExp(`${label}: ([\\d,]+)`).exec(measurement.stdout)
    if (m === null) throw new Error(`rsync --stats: no "${label}"`)
    return Number(m[1].replaceAll(',', ''))
  }
  return {
    tool: compress ? 'rsync -z' : 'rsync',
    command: argv.join(' '),
    wireBytes: num('Total bytes sent') + num('Total bytes received'),
    requests: undefined,
    measurement,
    note: 'one session; bytes from rsync --stats (sent + received)'
  }
}

/** A hard-linked copy of `tree` without device nodes, fifos and sockets, which ostree cannot store. */
async function ostreeView (tree: string, dest: string): Promise<number> {
  await run('cp', ['-al', tree, dest])
  const { stdout } = await run('find', [dest, '(', '-type', 'b', '-o', '-type', 'c', '-o', '-type', 'p', '-o', '-type', 's', ')', '-print', '-delete'])
  return stdout.split('\n').filter((l) => l !== '').length
}

/**
 * `ostree pull` of the target commit from an archive-mode repository served over HTTP, into a
 * bare repository that already holds the base commit (committed locally: the same objects, as
 * ostree checksums content and metadata, not the repository). No static deltas are generated:
 * ostree's default for a plain `ostree commit` workflow.
 */
export async function ostreeDeploy ({ base, target, work }: DeployOptions): Promise<DeployRun> {
  const srv = join(work, 'ostree-srv')
  const client = join(work, 'ostree-client')
  const baseView = join(work, 'ostree-base')
  const targetView = join(work, 'ostree-target')
  const skipped = await ostreeView(base, baseView)
  await ostreeView(target, targetView)
  try {
    await run('ostree', ['init', `--repo=${srv}`, '--mode=archive'])
    await run('ostree', ['commit', `--repo=${srv}`, '--branch=base', `--tree=dir=${baseView}`])
    await run('ostree', ['commit', `--repo=${srv}`, '--branch=target', `--tree=dir=${targetView}`])
    await run('ostree', ['summary', `--repo=${srv}`, '-u'])
    await run('ostree', ['init', `--repo=${client}`, '--mode=bare'])
    await run('ostree', ['commit', `--repo=${client}`, '--branch=base', `--tree=dir=${baseView}`])
  } finally {
    await run('rm', ['-rf', baseView, targetView])
  }
  const server = await startStaticServer(srv)
  try {
    await run('ostree', ['remote', 'add', `--repo=${client}`, '--no-gpg-verify', 'srv', server.url])
    const argv = ['ostree', 'pull', `--repo=${client}`, 'srv', 'target']
    const measurement = await measure(argv)
    const c = server.counts()
    return {
      tool: 'ostree pull (HTTP)',
      command: argv.join(' '),
      wireBytes: c.wireBytes,
      requests: c.requests,
      measurement,
      note: skipped > 0 ? `${skipped} device nodes left out of both commits` : undefined
    }
  } finally {
    await server.close()
  }
}

/**
 * The floor: the zstd size (level `level`, one stream, `zstd -T1`) of the content of the target's
 * regular files whose bytes occur in no regular file of the base (compared by BLAKE3 of the whole
 * file). Metadata and the bytes of the tree structure are not counted.
 */
export async function zstdFloor (base: string, target: string, level = 3): Promise<{ newFiles: number, newBytes: number, zstdBytes: number }> {
  const known = new Set<string>()
  for (const f of await listFiles(base)) known.add(Buffer.from(blake3Digest(await readFile(f.path))).toString('hex'))
  const child = spawn('zstd', [`-${level}`, '-T1', '-c'], { stdio: ['pipe', 'pipe', 'inherit'] })
  let zstdBytes = 0
  child.stdout.on('data', (b: Buffer) => { zstdBytes += b.length })
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => code === 0 ? resolve() : reject(new Error(`zstd exited with ${code}`)))
  })
  let newFiles = 0
  let newBytes = 0
  for (const f of await listFiles(target)) {
    const data = await readFile(f.path)
    if (known.has(Buffer.from(blake3Digest(data)).toString('hex'))) continue
    newFiles++
    newBytes += data.length
    if (!child.stdin.write(data)) await new Promise((resolve) => child.stdin.once('drain', resolve))
  }
  child.stdin.end()
  await done
  return { newFiles, newBytes, zstdBytes }
}
