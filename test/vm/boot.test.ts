import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { bootCheck, type BootResult } from './boot.js'
import { findVmTools } from './machine.js'

/**
 * A real Linux kernel boots under QEMU (TCG, user-mode networking) from `xeno nfs serve`: its
 * initramfs mounts a template + overlay + writable layer over NFSv3/TCP, switches root into it
 * and runs /init-check from the NFS tree (busybox from the tree, every kind of entry, reads,
 * every write procedure, errors and permissions as a plain user). What the guest saw and did is
 * compared line by line with the same commands run on the host over a plain copy, and the
 * guest's writes are read back through `xeno overlay commit` + `xeno export`. Midway the server
 * is killed (-9) and restarted on the same ports while the guest holds a file open for writing.
 *
 * Needs root (mknod, chown, chroot for the host model), qemu-system-x86_64, busybox-static and
 * a Debian kernel package extracted by scripts/setup.sh; skipped with the reason otherwise
 * (XENO_VM_REQUIRED=1 makes a missing piece a failure). About 40-60 s on 2 cores.
 */
const Vm = suite('Linux boots from xeno nfs serve (QEMU, NFSv3/TCP)')
const tools = await findVmTools()
const why = 'missing' in tools ? tools.missing : process.getuid?.() !== 0 ? 'needs root (mknod, chown, chroot)' : undefined
if (why !== undefined && process.env.XENO_VM_REQUIRED === '1') throw new Error(`VM test required but cannot run: ${why}`)
const test = why === undefined ? Vm : Vm.skip
if (why !== undefined) {
  console.log(`vm/boot: skipped: ${why}`)
  Vm(`not run: ${why}`, () => {})
}

let r: BootResult | undefined
let dir = ''

function explain (res: BootResult): string {
  return `\n--- console (last 60 lines) ---\n${res.transcript.split('\n').slice(-60).join('\n')}\n--- server ---\n${res.serverLog}`
}

test('the kernel mounts the export, runs from it, and sees exactly the tree', async () => {
  if ('missing' in tools) return
  dir = await tmpdir('xeno-vm-test-')
  r = await bootCheck(tools, dir, { timeoutMs: 240_000 })
  await writeFile(join(dir, 'console.log'), r.transcript)
  assert.not.ok(r.timedOut, `QEMU did not finish in 240 s${explain(r)}`)
  assert.ok(r.uptime.mounted !== undefined, `the NFS mount failed${explain(r)}`)
  assert.ok(r.done, `the check script did not finish${explain(r)}`)
  assert.match(r.mounts.join('\n'), /vers=3.*proto=tcp/)
  for (const c of r.comparisons.filter((x) => x.name.startsWith('guest before'))) {
    assert.equal({ name: c.name, onlyGuest: c.onlyGuest, onlyModel: c.onlyModel }, { name: c.name, onlyGuest: [], onlyModel: [] })
  }
})

test('the server\'s access trace of the boot starts with what the kernel ran first: /init-check, then busybox', () => {
  if (r === undefined) return assert.unreachable('no boot')
  assert.equal(r.trace.files.slice(0, 2), ['/init-check', '/bin/busybox'])
  assert.ok(r.trace.files.includes('/data/big.bin'))
  assert.ok(r.trace.chunks > 0)
})

test('every write step succeeds in the guest, and the guest then sees what a local file-system shows', () => {
  if (r === undefined) return assert.unreachable('no boot')
  assert.equal(r.steps.filter((s) => !s.ok).map((s) => s.line), [])
  assert.ok(r.steps.length >= 40, `only ${r.steps.length} steps ran`)
  for (const c of r.comparisons.filter((x) => x.name.startsWith('guest after'))) {
    assert.equal({ name: c.name, onlyGuest: c.onlyGuest, onlyModel: c.onlyModel }, { name: c.name, onlyGuest: [], onlyModel: [] })
  }
})

test('errors, permissions, large offsets and "." and ".." in listings match a local file-system', () => {
  if (r === undefined) return assert.unreachable('no boot')
  const c = r.comparisons.find((x) => x.name === 'guest probes vs model')!
  assert.equal(c.onlyGuest, [])
  assert.equal(c.onlyModel, [])
})

test('the writes landed in the writable layer (committed and exported by xeno) and the template is unchanged', async () => {
  if (r === undefined) return assert.unreachable('no boot')
  for (const c of r.comparisons.filter((x) => x.name.startsWith('writable layer'))) {
    assert.equal({ name: c.name, onlyXeno: c.onlyGuest, onlyModel: c.onlyModel }, { name: c.name, onlyXeno: [], onlyModel: [] })
  }
  assert.ok(r.templateUnchanged)
})

test('a server killed (-9) and restarted in the middle of the guest\'s writes: handles stay valid, the file lands whole', () => {
  if (r === undefined) return assert.unreachable('no boot')
  assert.ok(r.restarted, 'the guest never asked for the restart')
  assert.equal(r.steps.filter((s) => s.name.startsWith('restart-') && !s.ok), [])
  assert.match(r.transcript, /XENO-VM: restarted-ok/)
  // /work/restart.bin is in the dumps compared above: same bytes as the model's copy.
  assert.match(r.transcript, /^[0-9a-f]{64}\s+\/work\/restart\.bin$/m)
})

Vm.after(async () => { if (dir !== '') await rmrf(dir) })
Vm.run()
