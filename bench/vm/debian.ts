import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { rmrf, tmpdir } from '../../test/helpers/tmpdir.js'
import { runXeno, serve, startStore } from '../../test/vm/boot.js'
import { buildInitramfs, findVmTools, GUEST_MODULES, initScript, mountOptions, resolveModules, runVm } from '../../test/vm/machine.js'

/**
 * A real Debian userland runs from `xeno nfs serve` in a VM: a debootstrap tree (default
 * /work/data/t1, made by bench/data/make-datasets.sh) is imported as the template, an overlay
 * adds /xeno-check and a .deb, and the guest kernel mounts the union over NFSv3/TCP, switches
 * root into it and runs Debian's own programs from it (dash, bash, perl, dpkg --verify, which
 * checks the MD5 of every packaged file, apt-get check, dpkg -i / -r of a package, which writes
 * through the writable layer). The same script runs on the host chrooted into xeno's export of
 * the same union; the outputs must agree. Prints the guest's time for each command.
 * Usage: node dist/bench/vm/debian.js [TREE] [--keep] [--console] [--lazy]
 */
const args = process.argv.slice(2)
const tree = args.find((a) => !a.startsWith('--')) ?? '/work/data/t1'
const keep = args.includes('--keep')
const tools = await findVmTools()
if ('missing' in tools) { console.log(`vm debian: cannot run: ${tools.missing}`); process.exit(2) }
if (!existsSync(join(tree, 'var/lib/dpkg/status'))) { console.log(`vm debian: ${tree} is not a Debian tree (bench/data/make-datasets.sh makes /work/data/t1)`); process.exit(2) }

const CHECK = String.raw`#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C TZ=UTC
if [ -n "$XENO_GUEST" ]; then mount -t proc proc /proc; mount -t sysfs sys /sys; fi
up() { if [ -n "$XENO_GUEST" ]; then cut -d' ' -f1 /proc/uptime; else echo 0; fi; }
run() {
  name=$1; shift
  t0=$(up)
  out=$("$@" 2>&1); rc=$?
  t1=$(up)
  echo "XENO-DEB $name rc=$rc $(printf '%s' "$out" | tail -5 | tr '\n' '~')"
  echo "XENO-TIME $name $t0 $t1"
}
echo "XENO-TIME start $(up) $(up)"
run dash-echo sh -c 'echo dash ok'
run bash bash -c 'echo "bash $BASH_VERSION"'
run perl perl -e 'print "perl ok\n"'
run dpkg-count sh -c 'dpkg-query -W | wc -l'
run dpkg-verify dpkg --verify
run apt-check apt-get check
run apt-policy sh -c 'apt-cache policy apt | head -3'
run find-count sh -c 'find / -xdev -path /dev -prune -o -print | wc -l'
run file-bytes sh -c 'find / -xdev -type f -print0 | xargs -0 stat -c %s | awk "{s+=\$1} END {print s}"'
run ls-lR sh -c 'ls -lR /usr/share/doc | wc -l'
run md5-usr-bin sh -c 'find /usr/bin -type f | sort | xargs md5sum | md5sum'
run dpkg-install dpkg -i /root/pkg.deb
run installed-run sh -c 'busybox echo busybox runs'
run dpkg-verify-pkg dpkg --verify busybox-static
run dpkg-remove dpkg -r busybox-static
run removed sh -c 'test -e /bin/busybox && echo still-there || echo gone'
run useradd sh -c 'useradd -m -u 2000 alice && su alice -c "id -un; echo hi > ~/note; cat ~/note"'
run tar-roundtrip sh -c 'tar -C /usr/share -cf /tmp/doc.tar doc && mkdir /tmp/x && tar -C /tmp/x -xf /tmp/doc.tar && diff -r /usr/share/doc /tmp/x/doc && echo same; rm -rf /tmp/x /tmp/doc.tar'
run sort-big sh -c 'cat /var/lib/dpkg/status | sort | md5sum'
echo "XENO-TIME end $(up) $(up)"
sync
if [ -n "$XENO_GUEST" ]; then echo XENO-DEB-DONE; echo 1 > /proc/sys/kernel/sysrq; echo o > /proc/sysrq-trigger; sleep 10; fi
`

const dir = await tmpdir('xeno-vm-debian-')
const store = join(dir, 'store')
const ov = join(dir, 'overlay')
await mkdir(join(ov, 'root'), { recursive: true })
await writeFile(join(ov, 'xeno-check'), CHECK, { mode: 0o755 })
// The package to install: busybox-static (no dependencies), from apt's cache or downloaded.
const cached = readdirSync('/var/cache/apt/archives').find((n) => n.startsWith('busybox-static_') && n.endsWith('.deb'))
if (cached !== undefined) await copyFile(join('/var/cache/apt/archives', cached), join(ov, 'root/pkg.deb'))
else {
  execFileSync('apt-get', ['download', '-qq', 'busybox-static'], { cwd: dir })
  await copyFile(join(dir, readdirSync(dir).find((n) => n.endsWith('.deb'))!), join(ov, 'root/pkg.deb'))
}
// The overlay's /root keeps the template's mode (debootstrap makes it 0700).
execFileSync('chmod', ['--reference', join(tree, 'root'), join(ov, 'root')])
execFileSync('touch', ['--reference', join(tree, 'root'), join(ov, 'root')])
execFileSync('touch', ['--reference', tree, ov])

const t0 = Date.now()
const imported = JSON.parse(await runXeno(['template', 'import', tree, '--store', store, '--json'])) as { root: string, files: number, chunks: number }
const tpl = imported.root
const overlay = (JSON.parse(await runXeno(['overlay', 'build', ov, '--base', tpl, '--store', store, '--json'])) as { root: string }).root
const importSeconds = (Date.now() - t0) / 1000
const model = join(dir, 'model')
await runXeno(['export', '--layer', overlay, '--layer', tpl, model, '--store', store])

// --lazy: the NFS server starts with an empty store and fetches blocks on first read from a
// XenoStore on loopback holding the template and overlay; the trace counts what the run needed.
const lazy = args.includes('--lazy')
const xenostore = lazy ? await startStore(join(dir, 'xenostore')) : undefined
if (xenostore !== undefined) for (const root of [tpl, overlay]) await runXeno(['push', root, '--to', xenostore.url, '--store', store])
const traceFile = join(dir, 'trace.jsonl')
const server = await serve(['--store', lazy ? join(dir, 'lazy-store') : store, ...(xenostore === undefined ? [] : ['--from', xenostore.url]),
  '--layer', overlay, '--layer', tpl, '--writable', join(dir, 'upper'), '--state', join(dir, 'state'),
  '--listen', '127.0.0.1:0', '--mount-port', '0', '--allow', '127.0.0.1', '--trace', traceFile])
const spec = { nfsPort: server.port, mountPort: server.mountPort, export: '/export', options: mountOptions({ nfsPort: server.port, mountPort: server.mountPort }) }
const modules = await resolveModules(tools.modulesDir, GUEST_MODULES)
const initrd = join(dir, 'initrd.cpio')
// XENO_GUEST in the environment of the check script: set by the initramfs before switch_root.
const init = initScript(modules.map((m) => m.name), spec, '/xeno-check').replace('exec switch_root', 'export XENO_GUEST=1\n  exec switch_root')
await writeFile(initrd, buildInitramfs(await readFile(tools.busybox), init, modules))
const vm = await runVm({ qemu: tools.qemu, kernel: tools.kernel, initrd, append: 'console=ttyS0 quiet panic=-1', memoryMb: 512, timeoutMs: 900_000, onConsole: args.includes('--console') ? (t) => { process.stdout.write(t) } : undefined })
const gone = new Promise((resolve) => server.child.on('close', resolve))
server.child.kill('SIGINT')
await gone
await xenostore?.stop()
await writeFile(join(dir, 'console.log'), vm.console)
const trace = (await readFile(traceFile, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { file?: number, chunk?: string, from?: string })

const hostOut = await new Promise<string>((resolve) => {
  const c = spawn('chroot', [model, '/xeno-check'], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let o = ''
  c.stdout.setEncoding('utf8')
  c.stdout.on('data', (d: string) => { o += d })
  c.on('close', () => { resolve(o) })
})
const lines = (t: string): Map<string, string> => new Map([...t.matchAll(/^XENO-DEB (\S+) (.*)$/gm)].map((m) => [m[1]!, m[2]!]))
const guest = lines(vm.console)
const host = lines(hostOut)
const times = new Map([...vm.console.matchAll(/^XENO-TIME (\S+) ([\d.]+) ([\d.]+)$/gm)].map((m) => [m[1]!, Number(m[3]) - Number(m[2])]))
const mounted = /XENO-VM: mounted t=([\d.]+)/.exec(vm.console)?.[1]
const start = /XENO-TIME start ([\d.]+)/.exec(vm.console)?.[1]
const end = /XENO-TIME end ([\d.]+)/.exec(vm.console)?.[1]
console.log(`tree ${tree}: import + overlay ${importSeconds.toFixed(1)} s; kernel ${tools.kernelVersion}, QEMU ${process.env.XENO_VM_ACCEL ?? 'tcg'}, 512 MiB`)
console.log(`QEMU ran ${vm.seconds.toFixed(1)} s${vm.timedOut ? ' (TIMED OUT)' : ''}; guest uptime at NFS mount ${mounted ?? '?'} s, checks ${start ?? '?'} -> ${end ?? '?'} s; finished: ${/^XENO-DEB-DONE$/m.test(vm.console)}`)
let differ = 0
console.log('| command | guest s | guest | host (chroot, same union) |\n| --- | ---: | --- | --- |')
for (const [name, g] of guest) {
  const h = host.get(name)
  if (h !== g) differ++
  console.log(`| ${name} | ${times.get(name)?.toFixed(2) ?? '?'} | ${g} | ${h === g ? 'same' : h ?? '(none)'} |`)
}
for (const name of host.keys()) if (!guest.has(name)) { differ++; console.log(`| ${name} | - | (none) | ${host.get(name)!} |`) }
console.log(`access trace: ${trace.filter((e) => e.file !== undefined).length} files read, ${trace.filter((e) => e.chunk !== undefined).length} blocks (${trace.filter((e) => e.from === 'remote').length} fetched from the XenoStore); the template has ${imported.files} files in ${imported.chunks} chunks`)
console.log(`${differ === 0 ? 'guest and host agree on every command' : `${differ} commands differ`}; server log:\n${server.log()}`)
console.log(keep ? `kept ${dir}` : 'rerun with --keep to keep the console')
if (!keep) await rmrf(dir)
process.exitCode = differ === 0 && !vm.timedOut ? 0 : 1
