import { execFileSync, spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const XENO = new URL('../../../bin/xeno', import.meta.url).pathname
const xeno = (...args: string[]): string => execFileSync(process.execPath, [XENO, ...args], { encoding: 'utf8' })

const Help = suite('xeno --help and --version')

Help('every command listed by xeno --help answers --help with its usage', () => {
  const overview = xeno('--help')
  const names = overview.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim().split(/\s{2,}/)[0])
  assert.ok(names.length >= 15, `commands: ${names.join(', ')}`)
  for (const name of ['template import', 'export', 'ls', 'cat', 'stats', 'gc', 'fsck', 'push', 'pull', 'nfs serve', 'store serve']) {
    assert.ok(names.includes(name), `${name} is listed`)
  }
  for (const name of names) {
    const text = xeno(...name.split(' '), '--help')
    assert.ok(text.startsWith(`usage: xeno ${name}`), `${name} --help: ${text.slice(0, 80)}`)
    assert.ok(text.includes('--json'), `${name} --help names --json`)
  }
})

Help('xeno --version prints the package version; an unknown command exits 2 with one line', () => {
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
  assert.ok(xeno('--version').startsWith(`xeno ${version} `))
  assert.is(JSON.parse(xeno('--version', '--json')).version, version)
  const r = spawnSync(process.execPath, [XENO, 'frobnicate'], { encoding: 'utf8' })
  assert.is(r.status, 2)
  assert.is(r.stderr.trim().split('\n').length, 1)
})

Help('--store and --json may come before the command; another leading option exits 2 with one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xeno-help-'))
  try {
    const src = join(dir, 'src')
    mkdirSync(join(src, 'd'), { recursive: true })
    writeFileSync(join(src, 'd', 'f'), 'hello\n')
    const store = join(dir, 'store')
    const { root } = JSON.parse(xeno('--store', store, '--json', 'template', 'import', src, '--name', 't')) as { root: string }
    assert.match(root, /^bafy/)
    // The store named first is the one used: the name resolves there, and nowhere else.
    assert.is(xeno(`--store=${store}`, 'cat', 't:/d/f'), 'hello\n')
    assert.is((JSON.parse(xeno('--json', '--store', store, 'ls', 't:/d')) as { entries: Array<{ name: string }> }).entries[0]?.name, 'f')
    const other = spawnSync(process.execPath, [XENO, '--store', join(dir, 'other'), 'cat', 't:/d/f'], { encoding: 'utf8' })
    assert.is(other.status, 1)
    // Output that cannot be written (a full disk) is one line and exit 1, not a stack trace.
    const full = openSync('/dev/full', 'w')
    try {
      const r = spawnSync(process.execPath, [XENO, '--store', store, 'cat', 't:/d/f'], { encoding: 'utf8', stdio: ['ignore', full, 'pipe'] })
      assert.is(r.status, 1)
      assert.equal(r.stderr.trim().split('\n'), ['xeno: cannot write the output: ENOSPC: no space left on device, write'])
    } finally { closeSync(full) }
    for (const args of [['--frob', 'ls', 't'], ['--store']]) {
      const r = spawnSync(process.execPath, [XENO, ...args], { encoding: 'utf8' })
      assert.is(r.status, 2, args.join(' '))
      assert.is(r.stderr.trim().split('\n').length, 1, r.stderr)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

Help.run()
