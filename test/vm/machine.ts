import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'

/**
 * The machine side of the VM boot test: finding QEMU, a Debian kernel with its modules and a
 * static busybox; an initramfs (cpio newc, written here) that loads the NFS client modules,
 * mounts the export over NFSv3/TCP and switches root into it; and a QEMU run under TCG with
 * user-mode networking (the guest reaches the host's 127.0.0.1 at 10.0.2.2).
 */

/** Where scripts/setup.sh extracts the kernel package (boot/vmlinuz-*, lib/modules/VER/). */
export function kernelCacheDir (): string {
  return process.env.XENO_VM_KERNEL_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'xeno', 'vm-kernel')
}

export interface VmTools {
  qemu: string
  kernel: string
  modulesDir: string
  kernelVersion: string
  busybox: string
}

function which (cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, cmd)
    if (dir !== '' && existsSync(p)) return p
  }
  return undefined
}

/** True when an ELF executable has no program interpreter (PT_INTERP), i.e. is static. */
async function isStaticElf (path: string): Promise<boolean> {
  const b = await readFile(path)
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false
  const phoff = Number(b.readBigUInt64LE(0x20))
  const phentsize = b.readUInt16LE(0x36)
  const phnum = b.readUInt16LE(0x38)
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3) return false
  return true
}

/** What the VM test needs, or the reason it cannot run here (the test skips with it). */
export async function findVmTools (): Promise<VmTools | { missing: string }> {
  const qemu = process.env.XENO_VM_QEMU ?? which('qemu-system-x86_64')
  if (qemu === undefined) return { missing: 'qemu-system-x86_64 not found (Debian package qemu-system-x86; scripts/setup.sh installs it)' }
  const busybox = process.env.XENO_VM_BUSYBOX ?? '/bin/busybox'
  if (!existsSync(busybox) || !await isStaticElf(busybox)) return { missing: `no static busybox at ${busybox} (Debian package busybox-static)` }
  const dir = kernelCacheDir()
  const boot = existsSync(join(dir, 'boot')) ? (await readdir(join(dir, 'boot'))).filter((n) => n.startsWith('vmlinuz-')).sort() : []
  const kernelVersion = boot.at(-1)?.slice('vmlinuz-'.length)
  if (kernelVersion === undefined) return { missing: `no kernel in ${dir}/boot (scripts/setup.sh downloads linux-image-cloud-amd64 there; XENO_VM_KERNEL_DIR overrides)` }
  const modulesDir = join(dir, 'lib', 'modules', kernelVersion)
  if (!existsSync(join(modulesDir, 'kernel'))) return { missing: `no modules for ${kernelVersion} in ${modulesDir}` }
  return { qemu, kernel: join(dir, 'boot', boot.at(-1)!), modulesDir, kernelVersion, busybox }
}

/** The modules the guest needs: the virtio NIC and the NFSv3 client (Debian builds both as modules). */
export const GUEST_MODULES = ['virtio_pci', 'virtio_net', 'nfsv3']

const norm = (name: string): string => name.replace(/-/g, '_')

async function * walkKo (dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) yield * walkKo(p)
    else if (e.name.endsWith('.ko')) yield p
  }
}

/** The `depends=` field of a module's .modinfo section (NUL-separated key=value strings). */
function moduleDepends (ko: Buffer): string[] {
  let at = ko.indexOf('\0depends=')
  if (at < 0) return []
  at += '\0depends='.length
  const text = ko.subarray(at, ko.indexOf(0, at)).toString()
  return text === '' ? [] : text.split(',').map(norm)
}

export interface GuestModule { name: string, bytes: Buffer }

/**
 * The named modules and everything they depend on, in load order (dependencies first), read
 * from the modules tree itself (the .deb carries no modules.dep: depmod makes it at install).
 * Modules that the kernel has built in are simply absent from the tree, so they are skipped
 * when only a dependency; a requested module that is neither found nor built in is an error.
 */
export async function resolveModules (modulesDir: string, wanted: string[]): Promise<GuestModule[]> {
  const paths = new Map<string, string>()
  for await (const p of walkKo(join(modulesDir, 'kernel'))) paths.set(norm(p.slice(p.lastIndexOf('/') + 1, -3)), p)
  const builtin = existsSync(join(modulesDir, 'modules.builtin'))
    ? new Set((await readFile(join(modulesDir, 'modules.builtin'), 'utf8')).split('\n').map((l) => norm(l.slice(l.lastIndexOf('/') + 1).replace(/\.ko$/, ''))))
    : new Set<string>()
  const out: GuestModule[] = []
  const seen = new Set<string>()
  const visit = async (name: string, requested: boolean): Promise<void> => {
    if (seen.has(name)) return
    seen.add(name)
    const p = paths.get(name)
    if (p === undefined) {
      if (requested && !builtin.has(name)) throw new Error(`kernel module ${name} not found under ${modulesDir} (compressed modules are not supported)`)
      return
    }
    const bytes = await readFile(p)
    for (const dep of moduleDepends(bytes)) await visit(dep, false)
    out.push({ name, bytes })
  }
  for (const w of wanted) await visit(norm(w), true)
  return out
}

export interface CpioEntry { path: string, mode: number, data?: Buffer | string, rdev?: [number, number] }

/** A cpio archive in the "newc" format the kernel unpacks as its initramfs. */
export function cpioNewc (entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = []
  const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4)
  const hex = (n: number): string => n.toString(16).padStart(8, '0')
  let ino = 1
  const add = (path: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]): void => {
    const name = Buffer.from(`${path}\0`)
    const header = '070701' + [ino++, mode, 0, 0, (mode & 0o170000) === 0o040000 ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], name.length, 0].map(hex).join('')
    parts.push(Buffer.from(header), name, pad4(110 + name.length), data, pad4(data.length))
  }
  for (const e of entries) add(e.path, e.mode, typeof e.data === 'string' ? Buffer.from(e.data) : e.data ?? Buffer.alloc(0), e.rdev)
  add('TRAILER!!!', 0, Buffer.alloc(0))
  return Buffer.concat(parts)
}

export interface MountSpec { nfsPort: number, mountPort: number, export: string, options: string }

/** The mount options the guest uses; `port`/`mountport` skip the portmapper, `nolock` skips NLM. */
export function mountOptions (spec: { nfsPort: number, mountPort: number }): string {
  return `vers=3,proto=tcp,mountproto=tcp,nolock,port=${spec.nfsPort},mountport=${spec.mountPort},addr=10.0.2.2`
}

/**
 * The initramfs /init: busybox, the modules in load order, a static address on eth0, the NFS
 * mount, then switch_root into the export, running the check script from the NFS tree.
 */
export function initScript (modules: string[], spec: MountSpec, guestInit: string): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /root
mount -t proc proc /proc
mount -t devtmpfs dev /dev
echo "XENO-VM: initramfs t=$(cut -d' ' -f1 /proc/uptime)"
for m in ${modules.join(' ')}; do insmod /lib/modules/$m.ko || echo "XENO-VM: insmod $m failed"; done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "XENO-VM: mount -t nfs -o ${spec.options} 10.0.2.2:${spec.export} /root"
if mount -t nfs -o ${spec.options} 10.0.2.2:${spec.export} /root; then
  echo "XENO-VM: mounted t=$(cut -d' ' -f1 /proc/uptime)"
  mount --move /dev /root/dev || umount /dev
  umount /proc
  exec switch_root /root ${guestInit}
fi
echo "XENO-VM: mount failed"
dmesg | tail -20
poweroff -f
`
}

/** The initramfs image: busybox, /init, the modules, /dev/console. */
export function buildInitramfs (busybox: Buffer, init: string, modules: GuestModule[]): Buffer {
  const dirs = ['bin', 'dev', 'lib', 'lib/modules', 'proc', 'sys', 'root']
  return cpioNewc([
    ...dirs.map((d) => ({ path: d, mode: 0o040755 })),
    { path: 'dev/console', mode: 0o020600, rdev: [5, 1] },
    { path: 'bin/busybox', mode: 0o100755, data: busybox },
    { path: 'init', mode: 0o100755, data: init },
    ...modules.map((m) => ({ path: `lib/modules/${m.name}.ko`, mode: 0o100644, data: m.bytes }))
  ])
}

export interface VmRun { console: string, exitCode: number | null, timedOut: boolean, seconds: number }

/**
 * Boots the kernel under QEMU (TCG unless XENO_VM_ACCEL says otherwise) with the serial
 * console on stdout, user-mode networking and a virtio NIC, until the guest powers off.
 */
export async function runVm (opts: { qemu: string, kernel: string, initrd: string, append: string, timeoutMs: number, memoryMb?: number, onConsole?: (text: string) => void }): Promise<VmRun> {
  const initrdFile = opts.initrd
  const args = [
    '-accel', process.env.XENO_VM_ACCEL ?? 'tcg', '-m', String(opts.memoryMb ?? 256), '-smp', '1',
    '-nodefaults', '-display', 'none', '-no-reboot', '-serial', 'stdio', '-monitor', 'none',
    '-netdev', 'user,id=n0,ipv6=off', '-device', 'virtio-net-pci,netdev=n0,romfile=',
    '-kernel', opts.kernel, '-initrd', initrdFile, '-append', opts.append
  ]
  const started = process.hrtime.bigint()
  const child = spawn(opts.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let console = ''
  const take = (t: string): void => { console += t; opts.onConsole?.(t) }
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', take)
  child.stderr.on('data', take)
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, opts.timeoutMs)
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  clearTimeout(timer)
  return { console: console.replace(/\r\n/g, '\n'), exitCode, timedOut, seconds: Number(process.hrtime.bigint() - started) / 1e9 }
}

/** mknod/mkfifo through coreutils (Node has neither); false when not permitted. */
export function mknod (path: string, kind: 'c' | 'p', major = 0, minor = 0): boolean {
  const r = kind === 'p' ? spawnSync('mkfifo', [path]) : spawnSync('mknod', [path, kind, String(major), String(minor)])
  return r.status === 0
}

export async function writeText (path: string, text: string, mode?: number): Promise<void> {
  await writeFile(path, text, mode === undefined ? undefined : { mode })
}
