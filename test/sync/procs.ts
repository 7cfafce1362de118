import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const XENO = join(fileURLToPath(new URL('../../../bin/xeno', import.meta.url)))

export interface CliResult { code: number | null, stdout: string, stderr: string, json: any }

/** Starts `xeno args` and returns the child (stdout/stderr collected). */
export function startCli (args: string[], env: Record<string, string> = {}): { child: ChildProcess, done: Promise<CliResult> } {
  const child = spawn(process.execPath, [XENO, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d) => { stdout += String(d) })
  child.stderr?.on('data', (d) => { stderr += String(d) })
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code) => {
      let json: unknown
      try { json = JSON.parse(stdout.trim().split('\n').pop() ?? '') } catch {}
      resolve({ code, stdout, stderr, json })
    })
  })
  return { child, done }
}

/** Runs `xeno args` to completion; kills it (and says so in stderr) after `timeoutMs`. */
export async function runCli (args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<CliResult> {
  const run = startCli(args, env)
  const timer = setTimeout(() => { run.child.kill('SIGKILL') }, timeoutMs)
  const result = await run.done
  clearTimeout(timer)
  if (result.code === null) result.stderr += `\n(killed after ${timeoutMs} ms: xeno ${args.join(' ')})`
  return result
}

export interface ServerProc { url: string, port: number, child: ChildProcess, stop: () => Promise<void>, kill: () => Promise<void> }

/** Starts `xeno store serve --listen 127.0.0.1:PORT --data DIR [...extra]` and waits for "listening on URL". */
export async function startServer (dataDir: string, extra: string[] = [], port = 0): Promise<ServerProc> {
  const child = spawn(process.execPath, [XENO, 'store', 'serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (d) => { err += String(d) })
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d) => {
      out += String(d)
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m !== null) resolve(m[1])
    })
    child.on('close', (code) => reject(new Error(`server exited with ${code}: ${err}`)))
  })
  return {
    url,
    port: Number(new URL(url).port),
    child,
    stop: async () => { child.kill('SIGTERM'); await closed },
    kill: async () => { child.kill('SIGKILL'); await closed }
  }
}

export interface StallProxy { port: number, url: string, reached: Promise<void>, close: () => void }

/**
 * A TCP proxy to 127.0.0.1:`target` that forwards the first `afterBytes` bytes in `direction`
 * ('up': client to server, 'down': server to client) and then drops the rest (the connection
 * stays open, stalled, until either end closes it), resolving `reached`. The other direction
 * flows freely.
 */
export async function stallProxy (target: number, direction: 'up' | 'down', afterBytes: number): Promise<StallProxy> {
  let resolveReached!: () => void
  const reached = new Promise<void>((resolve) => { resolveReached = resolve })
  let passed = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1')
    sockets.add(client); sockets.add(upstream)
    const [from, to] = direction === 'up' ? [client, upstream] : [upstream, client]
    const [back, backTo] = direction === 'up' ? [upstream, client] : [client, upstream]
    back.on('data', (d) => backTo.write(d))
    from.on('data', (d: Buffer) => {
      if (passed >= afterBytes) return
      const n = Math.min(d.length, afterBytes - passed)
      passed += n
      to.write(d.subarray(0, n))
      if (passed >= afterBytes) resolveReached()
    })
    const end = (): void => { client.destroy(); upstream.destroy() }
    client.on('close', end); upstream.on('close', end)
    client.on('error', end); upstream.on('error', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return { port, url: `http://127.0.0.1:${port}`, reached, close: () => { for (const s of sockets) s.destroy(); server.close() } }
}
