#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) in its own Node process, two at a
// time (this machine has 2 cores), and ends with the line "N passed, N failed".
// Usage: node scripts/run-tests.mjs [substring-filter ...]
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const testDir = join(root, 'dist', 'test')
const filters = process.argv.slice(2)
const concurrency = Number(process.env.XENO_TEST_JOBS ?? 2)
const perFileTimeoutMs = Number(process.env.XENO_TEST_TIMEOUT_MS ?? 300_000)

function * walk (dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) yield * walk(p)
    else if (name.endsWith('.test.js')) yield p
  }
}

const files = [...walk(testDir)].filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
let passed = 0
let failed = 0
let skipped = 0
const failures = []
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '')

function runOne (file) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(process.execPath, ['--enable-source-maps', file], { cwd: root, env: { ...process.env, FORCE_COLOR: '0' } })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { out += d })
    const timer = setTimeout(() => { out += `\n(timed out after ${perFileTimeoutMs} ms)\n`; child.kill('SIGKILL') }, perFileTimeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      const text = strip(out)
      const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? 0)
      const ok = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? 0)
      const skip = Number(/Skipped:\s+(\d+)/.exec(text)?.[1] ?? 0)
      const rel = relative(root, file)
      const secs = ((Date.now() - started) / 1000).toFixed(1)
      // uvu exits 0 when a hook (before.each) throws: its cases then count in Total, not in
      // Passed (a skipped case counts in both).
      if (code === 0 && total > 0 && ok === total) {
        passed += ok; skipped += skip
        console.log(`ok   ${rel} (${ok} passed, ${secs}s)`)
      } else {
        const bad = Math.max(total - ok - skip, 1)
        passed += ok; skipped += skip; failed += bad
        failures.push(rel)
        console.log(`FAIL ${rel} (${bad} failed, exit ${code}, ${secs}s)\n${text.split('\n').map((l) => '     ' + l).join('\n')}`)
      }
      resolve()
    })
  })
}

const queue = [...files]
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (queue.length > 0) await runOne(queue.shift())
}))
if (failures.length > 0) console.log(`\nfailed files:\n  ${failures.join('\n  ')}`)
console.log(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0
