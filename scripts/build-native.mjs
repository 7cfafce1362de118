#!/usr/bin/env node
// Builds the N-API addon native/*.c (utimensat, mknod, l*xattr, scandir, and the ingest
// workers' read/cut/hash/compress loop, linked with the system libzstd) into
// build/Release/xeno_posix.node with node-gyp, using the headers of the running Node when
// they are installed (offline), else letting node-gyp fetch them. Skips when up to date.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const out = join(root, 'build', 'Release', 'xeno_posix.node')
// Sources: every file of native/ and binding.gyp (which also names the libraries linked).
const sources = [join(root, 'binding.gyp'), ...readdirSync(join(root, 'native')).map((f) => join(root, 'native', f))]
if (existsSync(out) && sources.every((src) => statSync(out).mtimeMs >= statSync(src).mtimeMs)) process.exit(0)

function nodeGyp () {
  // npm tells its lifecycle scripts where its own node-gyp is.
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp
  try { return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js') } catch {}
  for (const p of ['/usr/share/nodejs/node-gyp/bin/node-gyp.js', '/usr/lib/node_modules/node-gyp/bin/node-gyp.js']) if (existsSync(p)) return p
  const npmBundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
  if (existsSync(npmBundled)) return npmBundled
  throw new Error('node-gyp not found (it ships with npm)')
}
const prefix = join(dirname(process.execPath), '..')
const args = [nodeGyp(), 'rebuild', '--loglevel=error']
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`)
const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
if (r.status !== 0) { console.error('build-native: node-gyp failed'); process.exit(1) }
