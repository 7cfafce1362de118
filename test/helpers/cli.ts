import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The built CLI (bin/xeno), run with this Node. */
export const XENO_BIN = fileURLToPath(new URL('../../../bin/xeno', import.meta.url))

/** Runs `xeno ARGS` to completion: its stdout, or an Error with its stderr when it exits non-zero. */
export async function runXeno (args: string[]): Promise<string> {
  const child = spawn(process.execPath, [XENO_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)))
  if (code !== 0) throw new Error(`xeno ${args.join(' ')} failed: ${err}`)
  return out
}

/**
 * Starts `xeno nfs serve ARGS` (with `--listen 127.0.0.1:0` among them) and resolves once it
 * prints "listening on 127.0.0.1:PORT"; rejects with its output if it exits first. Every later
 * line of its stdout goes to `onLine`.
 */
export async function startNfsServe (args: string[], options: { env?: NodeJS.ProcessEnv, onLine?: (line: string) => void } = {}): Promise<{ child: ChildProcess, port: number }> {
  const child = spawn(process.execPath, [XENO_BIN, 'nfs', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env })
  let out = ''
  let pending = ''
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const port = await new Promise<number>((resolve, reject) => {
    let listening = false
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      pending += d.toString()
      let nl: number
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl); pending = pending.slice(nl + 1)
        const m = /^listening on 127\.0\.0\.1:(\d+)/.exec(line)
        if (m !== null && !listening) { listening = true; resolve(Number(m[1])) } else if (listening) options.onLine?.(line)
      }
    })
    child.on('close', () => { reject(new Error(`server exited: ${out}`)) })
  })
  return { child, port }
}
