import { spawn } from 'node:child_process'
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
