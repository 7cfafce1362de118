import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { rmrf, tmpdir } from '../../test/helpers/tmpdir.js'
import { bootCheck } from '../../test/vm/boot.js'
import { findVmTools } from '../../test/vm/machine.js'

/**
 * Boots a real Linux kernel under QEMU (TCG) from `xeno nfs serve` and prints what it saw:
 * timings, the mount, each step, and every difference from the host model. Same run as the
 * test (test/vm/boot.test.ts), with the transcript kept.
 * Usage: node dist/bench/vm/boot.js [--keep] [--console] [--lazy] [--portmap]
 * --lazy: the NFS server starts with an empty store and fetches every block on first read from a
 * `xeno store serve` on loopback (--from). --portmap: the server also answers PORTMAP v2 on
 * 127.0.0.1:111 and the guest mounts without port options (the kernel asks the portmapper).
 */
const keep = process.argv.includes('--keep')
const tools = await findVmTools()
if ('missing' in tools) {
  console.log(`vm boot: cannot run: ${tools.missing}`)
  process.exit(2)
}
const dir = await tmpdir('xeno-vm-')
const started = Date.now()
const r = await bootCheck(tools, dir, { timeoutMs: 600_000, lazy: process.argv.includes('--lazy'), portmap: process.argv.includes('--portmap'), onConsole: process.argv.includes('--console') ? (t) => { process.stdout.write(t) } : undefined })
const total = (Date.now() - started) / 1000
await writeFile(join(dir, 'console.log'), r.transcript)
await writeFile(join(dir, 'server.log'), r.serverLog)
const u = r.uptime
const f = (x: number | undefined): string => x === undefined ? '?' : x.toFixed(2)
console.log(`kernel ${tools.kernelVersion}, QEMU ${process.env.XENO_VM_ACCEL ?? 'tcg'}; mount -t nfs -o ${r.mountOptions}`)
console.log(`guest /proc/mounts: ${r.mounts.join(' ; ')}`)
console.log(`QEMU ran ${r.vmSeconds.toFixed(1)} s${r.timedOut ? ' (TIMED OUT)' : ''}; whole run (build tree, import, serve, boot, model, commit, export) ${total.toFixed(1)} s`)
console.log(`guest uptime: initramfs ${f(u.initramfs)} s, NFS mounted ${f(u.mounted)} s, check start ${f(u.checkStart)} s, check end ${f(u.checkEnd)} s (checks took ${f(u.checkEnd !== undefined && u.checkStart !== undefined ? u.checkEnd - u.checkStart : undefined)} s); read of the 12 MiB file ${f(u.readBig)} s`)
const bad = r.steps.filter((s) => !s.ok)
console.log(`steps: ${r.steps.length - bad.length}/${r.steps.length} ok${bad.length > 0 ? `; failed: ${bad.map((s) => s.line).join('; ')}` : ''}; guest finished: ${r.done}; template unchanged: ${r.templateUnchanged}; server killed -9 and restarted mid-write: ${r.restarted}`)
const marks = [...r.transcript.matchAll(/^XENO-T (\S+) ([\d.]+)$/gm)].map((m) => [m[1]!, Number(m[2])] as const)
const slow = marks.map(([n, t], i) => [n, t - (i === 0 ? (u.checkStart ?? t) : marks[i - 1]![1])] as const).filter(([, d]) => d >= 1).sort((a, b) => b[1] - a[1])
console.log(`guest steps taking 1 s or more (s, including the dumps before them): ${slow.map(([n, d]) => `${n} ${d.toFixed(1)}`).join(', ')}`)
console.log(`access trace: ${r.trace.files.length} files, ${r.trace.chunks} blocks (${r.trace.remote} fetched from the XenoStore); first files: ${r.trace.files.slice(0, 6).join(' ')}`)
let diffs = 0
for (const c of r.comparisons) {
  const n = c.onlyGuest.length + c.onlyModel.length
  diffs += n
  console.log(`${n === 0 ? 'same' : 'DIFF'} ${c.name}${n === 0 ? '' : ':'}`)
  for (const l of c.onlyGuest.slice(0, 30)) console.log(`   guest/xeno: ${l}`)
  for (const l of c.onlyModel.slice(0, 30)) console.log(`   model:      ${l}`)
}
if (r.dmesg.length > 0) console.log(`guest dmesg (nfs/rpc):\n  ${r.dmesg.join('\n  ')}`)
console.log(keep ? `kept ${dir} (console.log, server.log)` : `transcript: rerun with --keep`)
if (!keep) await rmrf(dir)
process.exitCode = bad.length === 0 && diffs === 0 && r.done && r.templateUnchanged ? 0 : 1
