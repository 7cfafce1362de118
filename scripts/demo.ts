/**
 * The end-to-end demo of the README's first command, on embedded defaults: a workstation
 * imports a template and pushes it and an overlay to a XenoStore; a server that already caches
 * the template pulls only what the overlay adds and exports the union over NFS; a real NFS
 * client (libnfs-utils) reads and writes it. Prints every command and what crossed the wire.
 * Everything runs on 127.0.0.1 in a temporary folder, which is removed at the end
 * (keep it with XENO_DEMO_KEEP=1).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync, existsSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createServer } from 'node:net'
import { formatBytes } from '../src/util/format.js'

const ROOT = resolve(new URL('../..', import.meta.url).pathname)
const XENO = join(ROOT, 'bin', 'xeno')
const dir = mkdtempSync(join(tmpdir(), 'xeno-demo-'))
const env = { ...process.env, XENO_CONFIG: join(dir, 'client.json'), XENO_DEBUG: '' }
const children: ChildProcess[] = []
const bold = (s: string): string => process.stdout.isTTY === true ? `\x1b[1m${s}\x1b[0m` : s

function step (title: string): void { console.log(`\n${bold('== ' + title)}`) }

function show (args: string[]): void {
  console.log(`$ xeno ${args.map((a) => a.includes(' ') ? JSON.stringify(a) : a.replace(dir, '$DEMO')).join(' ')}`)
}

/** Runs `xeno args --json`, prints the command, returns the parsed JSON result. */
function xeno (args: string[], store?: string): any {
  const full = [...args, '--json', ...(store !== undefined ? ['--store', store] : [])]
  show(args)
  const r = spawnSync(process.execPath, [XENO, ...full], { env, encoding: 'utf8', maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`xeno ${args.join(' ')} failed: ${r.stderr.trim() || r.stdout.trim()}`)
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}')
}

function run (cmd: string, args: string[]): string {
  console.log(`$ ${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr.trim()}`)
  return r.stdout
}

/** Starts a long-running xeno command and resolves once it prints a line matching `ready`. */
async function background (args: string[], ready: RegExp): Promise<string> {
  show(args)
  const child = spawn(process.execPath, [XENO, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  return await new Promise((resolve, reject) => {
    let out = ''
    const onData = (d: Buffer): void => {
      out += d.toString()
      const m = ready.exec(out)
      if (m !== null) resolve(m[1] ?? m[0])
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('exit', (code) => reject(new Error(`xeno ${args[0]} exited (${code}): ${out.trim()}`)))
  })
}

async function freePort (): Promise<number> {
  return await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** The embedded sample template: a small root file-system made of this machine's own binaries. */
function makeTemplate (target: string): void {
  const files: Array<[string, string]> = [
    ['/bin/bash', 'usr/bin/bash'], ['/bin/ls', 'usr/bin/ls'], ['/bin/cat', 'usr/bin/cat'],
    ['/usr/bin/env', 'usr/bin/env'], ['/etc/passwd', 'etc/passwd'], ['/etc/group', 'etc/group'],
    ['/etc/os-release', 'etc/os-release']
  ]
  for (const d of ['usr/bin', 'usr/lib', 'etc', 'var/log', 'srv', 'tmp']) mkdirSync(join(target, d), { recursive: true })
  chmodSync(join(target, 'tmp'), 0o1777)
  for (const [from, to] of files) if (existsSync(from)) copyFileSync(from, join(target, to))
  const libdir = '/usr/lib/x86_64-linux-gnu'
  if (existsSync(libdir)) {
    for (const name of readdirSync(libdir).filter((n) => /^lib(c|m|z|crypto|ssl)\.so/.test(n)).slice(0, 8)) {
      const p = join(libdir, name)
      if (statSync(p).isFile()) copyFileSync(p, join(target, 'usr/lib', name))
    }
  }
  writeFileSync(join(target, 'etc/hostname'), 'template\n')
  writeFileSync(join(target, 'etc/motd'), 'Welcome to the xeno demo template.\n')
}

/** The overlay: a tiny web service configured on top of the template. */
function makeService (target: string): void {
  writeFileSync(join(target, 'etc/hostname'), 'web-1\n')
  unlinkSync(join(target, 'etc/motd'))
  mkdirSync(join(target, 'srv/www'), { recursive: true })
  writeFileSync(join(target, 'srv/www/index.html'), '<h1>Hello from a xeno overlay</h1>\n')
  writeFileSync(join(target, 'etc/web.conf'), 'listen 8080\nroot /srv/www\n')
}


async function main (): Promise<void> {
  const workstation = join(dir, 'workstation-store')
  const serverCache = join(dir, 'server-cache')
  step('1. On the workstation: import an OS template')
  const template = join(dir, 'template')
  makeTemplate(template)
  writeFileSync(env.XENO_CONFIG, '{}\n')
  xeno(['key', 'generate', '--out', join(dir, 'key.pem')])
  const imported = xeno(['template', 'import', template, '--name', 'Demo/1/current'], workstation)
  console.log(`   root ${imported.root}: ${imported.files} files, ${formatBytes(imported.bytes)} -> ${formatBytes(imported.storedBytes)} stored`)

  step('2. Start a XenoStore (HTTP, loopback, one open tenant)')
  const url = await background(['store', 'serve', '--listen', '127.0.0.1:0', '--data', join(dir, 'xenostore'), '--config', env.XENO_CONFIG], /listening on (\S+)/)
  console.log(`   ${url}`)

  step('3. Push the template to the store')
  const pushT = xeno(['push', 'Demo/1/current', '--to', url, '--name', 'Demo/1/current', '--key', join(dir, 'key.pem')], workstation)
  console.log(`   sent ${formatBytes(pushT.bytes)} in ${pushT.requests} requests`)

  step('4. A server caches the template (done once per server)')
  const pullT = xeno(['pull', 'template://Demo/1/current', '--from', url], serverCache)
  console.log(`   received ${formatBytes(pullT.bytes)} in ${pullT.requests} requests`)

  step('5. On the workstation: customise a copy and push it as an overlay')
  const service = join(dir, 'web-service')
  run('cp', ['-a', template, service])
  makeService(service)
  const pushO = xeno(['overlay', 'push', service, '--base', 'Demo/1/current', '--to', url, '--name', 'demo/web', '--key', join(dir, 'key.pem')], workstation)
  console.log(`   overlay ${pushO.root}: sent ${formatBytes(pushO.bytes)} in ${pushO.requests} requests`)

  step('6. Deploy: the server pulls only what the overlay adds')
  const pullO = xeno(['pull', 'demo/web', '--from', url], serverCache)
  console.log(`   received ${formatBytes(pullO.bytes)} in ${pullO.requests} requests (the template was already cached)`)

  step('7. Export the union (overlay over template, writable layer on top) over NFSv3')
  const nfsPort = await freePort()
  const mountPort = await freePort()
  await background(['nfs', 'serve', '--store', serverCache, '--layer', 'demo/web', '--layer', 'Demo/1/current',
    '--writable', join(dir, 'instance-1'), '--listen', `127.0.0.1:${nfsPort}`, '--mount-port', String(mountPort),
    '--allow', '127.0.0.1'], /listening on/)
  const nfsUrl = (path: string): string => `nfs://127.0.0.1/export${path}?version=3&nfsport=${nfsPort}&mountport=${mountPort}`
  process.stdout.write(run('nfs-ls', [nfsUrl('/etc')]).split('\n').slice(0, 12).join('\n') + '\n')
  process.stdout.write(run('nfs-cat', [nfsUrl('/srv/www/index.html')]))
  process.stdout.write(run('nfs-cat', [nfsUrl('/etc/hostname')]))
  const note = join(dir, 'note.txt')
  writeFileSync(note, 'written by the VM\n')
  run('nfs-cp', [note, nfsUrl('/var/log/note.txt')])
  process.stdout.write(run('nfs-cat', [nfsUrl('/var/log/note.txt')]))

  step('What crossed the wire')
  console.log(`   template push  ${formatBytes(pushT.bytes).padStart(12)}  ${pushT.requests} requests`)
  console.log(`   template pull  ${formatBytes(pullT.bytes).padStart(12)}  ${pullT.requests} requests (once per server)`)
  console.log(`   overlay push   ${formatBytes(pushO.bytes).padStart(12)}  ${pushO.requests} requests`)
  console.log(`   deploy pull    ${formatBytes(pullO.bytes).padStart(12)}  ${pullO.requests} requests`)
}

try {
  await main()
  console.log('\ndemo finished')
} catch (err) {
  console.error(`\ndemo failed: ${(err as Error).message}`)
  process.exitCode = 1
} finally {
  for (const c of children) c.kill('SIGTERM')
  if (process.env.XENO_DEMO_KEEP !== '1') rmSync(dir, { recursive: true, force: true })
  else console.log(`kept ${dir}`)
}
