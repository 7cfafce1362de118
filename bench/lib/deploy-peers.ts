import { execFile, spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { connect, createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { blake3Digest } from '../../src/cas/hasher.js'
import { startStaticServer, type StaticServer } from './http-static.js'
import { measure, type Measurement } from './measure.js'
import { listFiles } from './tree-data.js'
import { startWanProxy, type WanLinkOptions } from './wan-proxy.js'

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
  /** When set, the client reaches the server through an emulated wide-area link (wan-proxy.ts). */
  readonly link?: WanLinkOptions
}

/** A counting static server over `dir`, reached directly or through an emulated link. */
async function serve (dir: string, link: WanLinkOptions | undefined): Promise<{ url: string, server: StaticServer, close: () => Promise<void> }> {
  const server = await startStaticServer(dir)
  if (link === undefined) return { url: server.url, server, close: () => server.close() }
  const u = new URL(server.url)
  const proxy = await startWanProxy({ host: u.hostname, port: Number(u.port) }, link)
  return {
    url: `http://${proxy.host}:${proxy.port}`,
    server,
    close: async () => { await proxy.close(); await server.close() }
  }
}

function linkNote (link: WanLinkOptions | undefined): string | undefined {
  return link === undefined ? undefined : `through an emulated link: ${link.rttMs} ms RTT, ${(link.bytesPerSecond / 1000).toFixed(0)} KB/s`
}

function joinNotes (...notes: (string | undefined)[]): string | undefined {
  const kept = notes.filter((n): n is string => n !== undefined)
  return kept.length > 0 ? kept.join('; ') : undefined
}

/**
 * `casync extract --seed=BASE` of the target's index over HTTP (casync-http, one GET per
 * missing chunk), from a chunk store made with `casync make` defaults and served by a counting
 * static server on loopback. The seed is the base tree, as on a server that holds it.
 */
export async function casyncDeploy ({ base, target, work, link }: DeployOptions): Promise<DeployRun> {
  const srv = join(work, 'casync-srv')
  await run('mkdir', ['-p', srv])
  await run('casync', ['make', `--store=${join(srv, 'default.castr')}`, join(srv, 'target.caidx'), target])
  const http = await serve(srv, link)
  try {
    const argv = ['casync', 'extract', `--store=${http.url}/default.castr`, `--seed=${base}`,
      `${http.url}/target.caidx`, join(work, 'casync-out')]
    const measurement = await measure(argv)
    const c = http.server.counts()
    return {
      tool: 'casync extract --seed (HTTP)', command: argv.join(' '), wireBytes: c.wireBytes, requests: c.requests, measurement,
      note: linkNote(link)
    }
  } finally {
    await http.close()
  }
}

/** A TCP port that was free a moment ago (for daemons that cannot listen on port 0). */
export async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as AddressInfo
  await new Promise<void>((resolve) => srv.close(() => resolve()))
  return port
}

/**
 * `rsync -aHAX --delete --no-whole-file -z` from the target onto a copy of the base; bytes from --stats. Over a
 * pipe to a local rsync, or, with `link`, from an rsync daemon on loopback through the emulated
 * link (rsync://), so its time is comparable.
 */
export async function rsyncDeploy ({ base, target, work, link }: DeployOptions, compress = true): Promise<DeployRun> {
  const dest = join(work, 'rsync-dest')
  await run('cp', ['-a', base, dest])
  // --no-whole-file: between two local paths rsync copies whole files by default; over a
  // network it sends deltas of changed files, and that is the behaviour to measure.
  const opts = ['-aHAX', '--numeric-ids', '--delete', '--no-whole-file', ...(compress ? ['-z'] : []), '--stats']
  let daemon: ReturnType<typeof spawn> | undefined
  let proxy: Awaited<ReturnType<typeof startWanProxy>> | undefined
  try {
    let source = `${target}/`
    if (link !== undefined) {
      const port = await freePort()
      const conf = join(work, 'rsyncd.conf')
      await writeFile(conf, `use chroot = no\nnumeric ids = yes\n[target]\npath = ${target}\nread only = yes\nuid = root\ngid = root\n`)
      daemon = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`, '--address=127.0.0.1', `--port=${port}`], { stdio: 'ignore' })
      await waitForPort(port)
      proxy = await startWanProxy({ host: '127.0.0.1', port }, link)
      source = `rsync://${proxy.host}:${proxy.port}/target/`
    }
    const argv = ['rsync', ...opts, source, `${dest}/`]
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
      note: joinNotes('one session; bytes from rsync --stats (sent + received)', linkNote(link))
    }
  } finally {
    await proxy?.close()
    daemon?.kill()
  }
}

export async function waitForPort (port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true) })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`)
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
export async function ostreeDeploy ({ base, target, work, link }: DeployOptions): Promise<DeployRun> {
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
  const http = await serve(srv, link)
  try {
    await run('ostree', ['remote', 'add', `--repo=${client}`, '--no-gpg-verify', 'srv', http.url])
    const argv = ['ostree', 'pull', `--repo=${client}`, 'srv', 'target']
    const measurement = await measure(argv)
    const c = http.server.counts()
    return {
      tool: 'ostree pull (HTTP)',
      command: argv.join(' '),
      wireBytes: c.wireBytes,
      requests: c.requests,
      measurement,
      note: joinNotes(skipped > 0 ? `${skipped} device nodes left out of both commits` : undefined, linkNote(link))
    }
  } finally {
    await http.close()
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
