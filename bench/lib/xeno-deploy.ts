import { execFile, spawn } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { DeployOptions, DeployRun } from './deploy-peers.js'
import { measure } from './measure.js'
import { startWanProxy } from './wan-proxy.js'

const run = promisify(execFile)

/** bin/xeno of this checkout (bench/lib compiles to dist/bench/lib). */
export const XENO_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'xeno')

/** Runs `xeno ARGS... --json` (untimed set-up) and parses its JSON result. */
export async function xenoJson<T> (args: readonly string[]): Promise<T> {
  const { stdout } = await run(process.execPath, [XENO_BIN, ...args, '--json'], { maxBuffer: 64 << 20 })
  return JSON.parse(stdout) as T
}

/** A running `xeno store serve` on 127.0.0.1 (a free port), its URL, its process id and a stop function. */
export async function startXenoStore (dataDir: string): Promise<{ url: string, pid: number, stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [XENO_BIN, 'store', 'serve', '--listen', '127.0.0.1:0', '--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (b: Buffer) => { err += b.toString() })
  // Never outlive the benchmark, also when it is interrupted (its SIGTERM handler exits).
  const killOnExit = (): void => { child.kill() }
  process.once('exit', killOnExit)
  child.once('exit', () => process.off('exit', killOnExit))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      const m = /listening on (\S+)/.exec(out)
      if (m !== null) resolve(m[1])
    })
    child.on('exit', (code) => reject(new Error(`xeno store serve exited with ${code}: ${err.trim()}`)))
  })
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.on('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }
}

/**
 * xeno's side of bench/deploy-bytes: a XenoStore that holds `base` and `target` (imported on a
 * "workstation" store and pushed), and a client store that holds `base` (imported locally, as
 * on a server that has the template). Timed and counted: `xeno pull TARGET --from URL --base
 * BASE --json`, through a transparent counting proxy (or, with `link`, the emulated WAN link),
 * so the wire bytes are measured outside xeno; xeno's own count is in the note.
 */
export async function xenoDeploy ({ base, target, work, link }: DeployOptions): Promise<DeployRun> {
  const ws = join(work, 'xeno-ws')
  const client = join(work, 'xeno-client')
  const srv = join(work, 'xeno-srv')
  const baseRoot = (await xenoJson<{ root: string }>(['template', 'import', base, '--store', ws])).root
  const targetRoot = (await xenoJson<{ root: string }>(['template', 'import', target, '--store', ws])).root
  await xenoJson(['template', 'import', base, '--store', client])
  const server = await startXenoStore(srv)
  try {
    await xenoJson(['push', baseRoot, '--to', server.url, '--store', ws])
    await xenoJson(['push', targetRoot, '--to', server.url, '--store', ws])
    const u = new URL(server.url)
    const proxy = await startWanProxy({ host: u.hostname, port: Number(u.port) }, link)
    try {
      const argv = [process.execPath, XENO_BIN, 'pull', targetRoot, '--from', `http://${proxy.host}:${proxy.port}`,
        '--base', baseRoot, '--store', client, '--json']
      const measurement = await measure(argv)
      const self = JSON.parse(measurement.stdout) as { bytes?: number, requests?: number }
      const c = proxy.counts()
      return {
        tool: 'xeno pull',
        command: `node bin/xeno pull ${targetRoot} --from URL --base ${baseRoot} --store DIR --json`,
        wireBytes: c.up + c.down,
        requests: self.requests,
        measurement,
        note: `xeno counts ${self.bytes ?? '?'} bytes itself; ${c.connections} TCP connections` +
          (link === undefined ? '' : `; through an emulated link: ${link.rttMs} ms RTT, ${(link.bytesPerSecond / 1000).toFixed(0)} KB/s`)
      }
    } finally {
      await proxy.close()
    }
  } finally {
    await server.stop()
  }
}
