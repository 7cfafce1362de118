import { spawn, spawnSync } from 'node:child_process'
import { chmod, chown, copyFile, link, lutimes, mkdir, readdir, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { seededBytes } from '../helpers/bytes.js'
import { mknod } from './machine.js'

/**
 * The guest side of the VM boot test: the root tree the VM boots into (template + overlay), the
 * check script it runs from the NFS tree, and the same dump and write steps run on the host over
 * a plain directory, so that the guest's view through the kernel NFS client can be compared
 * line by line with what the tree should be.
 */

/** busybox applets the guest and the host-side model use (symlinks in /bin of the template). */
const APPLETS = ['sh', 'ls', 'cat', 'cp', 'mv', 'rm', 'ln', 'mkdir', 'rmdir', 'chmod', 'chown', 'touch', 'truncate',
  'dd', 'find', 'sort', 'xargs', 'stat', 'sha256sum', 'readlink', 'echo', 'printf', 'head', 'yes', 'grep', 'cut',
  'mkfifo', 'mknod', 'mount', 'umount', 'sync', 'poweroff', 'df', 'cmp', 'test', '[', 'sleep', 'wc', 'date', 'uname', 'true', 'false', 'env', 'tail', 'su', 'id', 'seq', 'od', 'tr']

const FIXED_MTIME = 1_000_000_000 // 2001-09-09T01:46:40Z

export const BIG_SIZE = 12 * 1024 * 1024

/**
 * The template: busybox and its applet links, the check script, and /data with every kind of
 * entry (files of known content incl. a multi-MiB one, symlinks, a hard link, a char device, a
 * fifo, odd modes and owners, a directory of 700 entries, long and UTF-8 names).
 */
export async function makeTemplate (dir: string, busybox: string, checkScript: string): Promise<void> {
  for (const d of ['bin', 'etc', 'data', 'data/many', 'data/rmtree/a/b', 'data/private', 'data/sticky', 'proc', 'sys', 'dev', 'tmp', 'mnt', 'deep/1/2/3/4/5/6/7/8']) await mkdir(join(dir, d), { recursive: true })
  await copyFile(busybox, join(dir, 'bin/busybox'))
  await chmod(join(dir, 'bin/busybox'), 0o755)
  for (const a of APPLETS) await symlink('busybox', join(dir, 'bin', a))
  await writeFile(join(dir, 'init-check'), checkScript, { mode: 0o755 })
  await writeFile(join(dir, 'etc/motd'), 'template motd\n')
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\nuser:x:1000:1000:user:/:/bin/sh\n')
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\nuser:x:1000:\n')
  const d = (p: string): string => join(dir, 'data', p)
  await writeFile(d('small.txt'), 'hello xeno\n', { mode: 0o640 })
  await writeFile(d('empty'), '')
  await writeFile(d('exec.sh'), '#!/bin/sh\necho exec-ok\n', { mode: 0o755 })
  await writeFile(d('big.bin'), seededBytes(7, BIG_SIZE))
  await writeFile(d('patch.bin'), seededBytes(8, 65_536))
  await writeFile(d('truncme.bin'), seededBytes(9, 200_000))
  await writeFile(d('removeme.txt'), 'remove me\n')
  await writeFile(d('gone.txt'), 'the overlay hides this\n')
  await writeFile(d('hard-a'), 'two names, one file\n')
  await link(d('hard-a'), d('hard-b'))
  await writeFile(d('owned.txt'), 'owned by 1234:5678\n')
  await chown(d('owned.txt'), 1234, 5678)
  await writeFile(d('setuid'), '#!/bin/sh\n', { mode: 0o755 })
  await chmod(d('setuid'), 0o4755)
  await chmod(d('private'), 0o700)
  await chmod(d('sticky'), 0o1777)
  await chmod(join(dir, 'tmp'), 0o1777)
  await writeFile(d('naïve-ü.txt'), 'utf-8 name\n')
  await writeFile(d('x'.repeat(200)), 'a 200-byte name\n')
  await symlink('small.txt', d('sym-rel'))
  await symlink('/etc/motd', d('sym-abs'))
  await symlink('no/such/target', d('sym-dangling'))
  await symlink('../etc', d('sym-dir'))
  if (!mknod(d('null'), 'c', 1, 3)) throw new Error('mknod failed (the VM test runs as root)')
  if (!mknod(d('fifo'), 'p')) throw new Error('mkfifo failed')
  for (let i = 0; i < 700; i++) await writeFile(d(`many/f${String(i).padStart(4, '0')}`), `f${String(i).padStart(4, '0')}\n`)
  for (const p of ['rmtree/top', 'rmtree/a/mid', 'rmtree/a/b/leaf']) await writeFile(d(p), `${p}\n`)
  await writeFile(join(dir, 'deep/1/2/3/4/5/6/7/8/bottom'), 'bottom\n')
  // Known mtimes on everything (a time of the run itself is "now" and not compared), and a few others.
  await stampTree(dir, FIXED_MTIME)
  const stamp = async (p: string, i: number, isLink = false): Promise<void> => {
    const t = FIXED_MTIME + i
    await (isLink ? lutimes(p, t, t) : utimes(p, t, t))
  }
  let i = 0
  for (const n of ['small.txt', 'empty', 'exec.sh', 'big.bin', 'patch.bin', 'truncme.bin', 'hard-a', 'owned.txt', 'setuid', 'naïve-ü.txt', 'many', 'private', 'sticky']) await stamp(d(n), i++)
  for (const n of ['sym-rel', 'sym-abs', 'sym-dangling', 'sym-dir']) await stamp(d(n), i++, true)
  await stamp(join(dir, 'data'), i++)
  await writeFile(d('ns-time'), 'nanoseconds\n')
  if (spawnSync('touch', ['-d', '2001-09-09 01:46:40.123456789 UTC', d('ns-time')]).status !== 0) throw new Error('touch -d failed')
}

/** Sets every entry's mtime (and atime) under `dir`, `dir` included, symlinks themselves. */
async function stampTree (dir: string, t: number): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) await stampTree(p, t)
    else await lutimes(p, t, t)
  }
  await utimes(dir, t, t)
}

/** Times at or after this are the run's own (2011-03-13); the template's and the touch -d of 2010 are compared. */
export const NOW_SINCE = 1_300_000_000

/** The overlay: changes /etc/motd, adds /overlay.txt and /data/from-overlay, hides /data/gone.txt. */
export async function makeOverlay (dir: string): Promise<{ whiteouts: string[] }> {
  await mkdir(join(dir, 'etc'), { recursive: true })
  await mkdir(join(dir, 'data'), { recursive: true })
  await writeFile(join(dir, 'etc/motd'), 'overlay motd\n')
  await writeFile(join(dir, 'overlay.txt'), 'from the overlay\n')
  await writeFile(join(dir, 'data/from-overlay'), 'added by the overlay\n')
  await stampTree(dir, FIXED_MTIME + 50)
  await utimes(join(dir, 'data'), FIXED_MTIME + 100, FIXED_MTIME + 100)
  return { whiteouts: ['/data/gone.txt'] }
}

/** Shell functions shared by the guest and the host model: `dump LABEL ROOT` and `step NAME CMD...`. */
const FUNCTIONS = String.raw`
dump() {
  echo "XENO-$1-STAT-BEGIN"
  find "$2" -xdev | sort | xargs stat -c '%n|%F|%a|%s|%Y|%u|%g|%h|%t|%T'
  echo "XENO-$1-STAT-END"
  echo "XENO-$1-SHA-BEGIN"
  find "$2" -xdev -type f | sort | xargs sha256sum
  echo "XENO-$1-SHA-END"
  echo "XENO-$1-LINK-BEGIN"
  find "$2" -xdev -type l | sort | while read -r p; do echo "$p|$(readlink "$p")"; done
  echo "XENO-$1-LINK-END"
}
probe() {
  name=$1; shift
  out=$("$@" 2>&1); rc=$?
  echo "XENO-PROBE $name rc=$rc $(echo "$out" | tr '\n' '~')"
}
step() {
  name=$1; shift
  if "$@"; then echo "XENO-STEP $name ok"; else echo "XENO-STEP $name FAIL rc=$?"; fi
  [ -r /proc/uptime ] && echo "XENO-T $name $(cut -d' ' -f1 /proc/uptime)"
}
`

/**
 * What the guest changes, each a step run against root $R ("" in the guest, the model's
 * directory on the host): every NFS procedure that writes (CREATE, WRITE, SETATTR incl. size
 * and times, MKDIR, SYMLINK, MKNOD, LINK, RENAME, REMOVE, RMDIR, COMMIT), on new files, on files
 * of the template (copy-up) and of the overlay.
 */
const WRITES = String.raw`
step mkdir mkdir "$R/work"
step mkdir-p mkdir -p "$R/work/a/b/c"
step create sh -c 'echo "written by the guest" > "$R/work/new.txt"'
step rename mv "$R/work/new.txt" "$R/work/renamed.txt"
step copy-big cp "$R/data/big.bin" "$R/work/big.copy"
step write-stream sh -c 'yes xeno-vm | head -c 3000000 > "$R/work/yes.txt"'
step append-overlay-file sh -c 'echo "appended by the guest" >> "$R/etc/motd"'
step chmod-template chmod 600 "$R/data/small.txt"
step chmod-dir chmod 750 "$R/work/a"
step truncate-template truncate -s 1000 "$R/data/truncme.bin"
step truncate-grow truncate -s 3000000 "$R/work/grown"
step patch-template sh -c 'printf XENO | dd of="$R/data/patch.bin" bs=1 seek=1000 conv=notrunc 2>/dev/null'
step remove-template rm "$R/data/removeme.txt"
step remove-overlay rm "$R/overlay.txt"
step symlink ln -s ../data/small.txt "$R/work/sym"
step hardlink ln "$R/work/renamed.txt" "$R/work/hard"
step mkfifo mkfifo "$R/work/fifo"
step mknod mknod "$R/work/null" c 1 3
step chown chown 42:43 "$R/work/renamed.txt"
step touch-mtime touch -d '2010-01-02 03:04:05' "$R/work/renamed.txt"
step mkdir-rmdir sh -c 'mkdir "$R/work/tmpdir" && rmdir "$R/work/tmpdir"'
step move-template-file mv "$R/data/many/f0001" "$R/work/moved"
step rm-template-tree rm -r "$R/data/rmtree"
step rename-over sh -c 'echo one > "$R/work/x" && echo two > "$R/work/y" && mv "$R/work/y" "$R/work/x"'
step exec-new sh -c 'printf "#!/bin/sh\necho exec-new-ok\n" > "$R/work/run.sh" && chmod 755 "$R/work/run.sh" && "$R/work/run.sh" | grep -q exec-new-ok'
step exec-template sh -c '"$R/data/exec.sh" | grep -q exec-ok'
step tmp-file sh -c 'echo scratch > "$R/tmp/t" && rm "$R/tmp/t"'
step link-template-file ln /data/hard-a /work/hard-c
step patch-big-template sh -c 'printf MIDDLE | dd of=/data/big.bin bs=1 seek=6000000 conv=notrunc 2>/dev/null'
step rm-template-big-dir rm -r /data/many
step rename-dir mv /work/a /work/a2
step touch-template-dir touch -d '2010-02-03 04:05:06' /deep/1/2
step cp-preserve cp -p /data/setuid /work/setuid-copy
step truncate-zero-overlay truncate -s 0 /data/from-overlay
step name-255 sh -c 'echo max > "/work/$(printf "n%.0s" $(seq 255))"'
step long-symlink sh -c 'ln -s "$(printf "t%.0s" $(seq 1000))" /work/long-link'
step create-many sh -c 'mkdir /work/many && for i in $(seq 300); do echo $i > /work/many/file-$i; done'
step excl-create sh -c 'set -C; echo first > /work/excl'
step append-via-hardlink sh -c 'echo more >> /work/hard-c'
step chmod-via-hardlink chmod 604 /work/hard-c
step rename-template-dir mv /deep/1/2/3 /work/three
step rename-template-dir-in-place mv /data/private /data/private2
step parallel-copies sh -c 'for i in 1 2 3 4; do (cp /data/big.bin /work/par$i && sha256sum /work/par$i > /work/par$i.sum) & done; wait'
step silly-rename-new sh -c 'echo gone-soon > /work/silly && exec 4</work/silly && rm /work/silly && cat <&4 >/work/silly-read; exec 4<&-'
step silly-rename-template sh -c 'exec 5</data/exec.sh && rm /data/exec.sh && cat <&5 >/work/exec-read; exec 5<&-'
step parallel-metadata-new-dir sh -c 'mkdir /work/pm && for j in 1 2 3 4; do (for i in $(seq 15); do echo $j-$i > /work/pm/f$j-$i; mv /work/pm/f$j-$i /work/pm/g$j-$i; ln -s g$j-$i /work/pm/s$j-$i; mkdir /work/pm/d$j-$i; done; for i in $(seq 1 2 15); do rm /work/pm/g$j-$i /work/pm/s$j-$i; rmdir /work/pm/d$j-$i; done) & done; wait'
step parallel-metadata-template-dirs sh -c 'for d in /etc /deep/1; do for j in 1 2 3; do (for i in $(seq 10); do echo $j-$i > $d/p$j-$i; mv $d/p$j-$i $d/q$j-$i; done; for i in $(seq 1 3 10); do rm $d/q$j-$i; done) & done; done; wait'
step write-second-mount cp /data/patch.bin "$M/tmp/second.bin"
step write-fsync sh -c 'dd if=/data/patch.bin of=/work/fsynced bs=4096 conv=fsync 2>/dev/null'
step write-direct sh -c 'dd if=/data/patch.bin of=/work/direct.bin bs=4096 oflag=direct 2>/dev/null'
step write-direct-odd sh -c 'dd if=/data/truncme.bin of=/work/direct-odd.bin bs=1000 count=7 oflag=direct 2>/dev/null'
`

/**
 * Probes: commands whose outcome (exit code and output) the guest and the host model must
 * agree on: errors (EEXIST, ENOTEMPTY, ENOENT, ENAMETOOLONG, EACCES for a plain user), dot
 * entries in listings, offsets past 4 GiB.
 */
const PROBES = String.raw`
probe excl-again sh -c 'set -C; echo second > /work/excl'
probe excl-content cat /work/excl
probe mkdir-exists mkdir /work/a2
probe rmdir-notempty rmdir /work/a2
probe rm-missing rm /work/no-such-file
probe symlink-exists ln -s x /work/sym
probe name-256 sh -c 'echo > "/work/$(printf "n%.0s" $(seq 256))"'
probe dots-template ls -a /deep/1
probe dots-new ls -a /work/a2
probe dots-root-count sh -c 'ls -a / | head -2'
probe count-many sh -c 'ls /work/many | wc -l'
probe count-removed sh -c 'ls /data | wc -l'
probe user-id su user -c id
probe user-read-0640 su user -c 'cat /data/small.txt'
probe user-read-private su user -c 'ls /data/private'
probe user-write-root-file su user -c 'echo x >> /etc/motd'
probe user-create-in-root-dir su user -c 'echo x > /data/user-file'
probe user-create-in-sticky su user -c 'echo mine > /data/sticky/user-file && cat /data/sticky/user-file'
probe user-read-public su user -c 'cat /data/hard-a'
probe user-exec-setuid-copy su user -c 'test -x /work/setuid-copy && echo exec-ok'
probe root-read-0000 sh -c 'echo secret > /work/zero && chmod 000 /work/zero && cat /work/zero'
probe big-offset sh -c 'printf END | dd of=/work/huge bs=1 seek=4294967296 2>/dev/null && stat -c %s /work/huge && dd if=/work/huge bs=1 skip=4294967296 count=3 2>/dev/null; echo; rm /work/huge'
probe read-middle-big sh -c 'dd if=/data/big.bin bs=1 skip=6000000 count=6 2>/dev/null'
probe hardlink-count stat -c %h /data/hard-a /work/hard-c
probe mtime-ns-template stat -c %y /data/ns-time
probe mtime-ns-set sh -c 'touch -r /data/ns-time /work/x && stat -c %y /work/x'
probe read-direct sh -c 'dd if=/data/big.bin bs=1048576 iflag=direct 2>/dev/null | sha256sum'
probe read-direct-odd sh -c 'dd if=/data/big.bin bs=1000 skip=3 count=5 iflag=direct 2>/dev/null | sha256sum'
`

/**
 * A server crash in the middle of writing: the guest writes a file through a descriptor kept
 * open (small dirty limits push UNSTABLE writes out early), says so, and the host kills the
 * server (-9) and starts it again on the same ports; then the guest closes, syncs and reads the
 * file back. Handles must stay valid, and data the old server only acknowledged as UNSTABLE must
 * be re-sent (the write verifier changed) and land. The model writes the same file.
 */
const RESTART = String.raw`
echo 65536 > /proc/sys/vm/dirty_background_bytes
echo 262144 > /proc/sys/vm/dirty_bytes
exec 3>/work/restart.bin
step restart-write-open sh -c 'dd if=/data/big.bin bs=65536 count=64 2>/dev/null >&3'
echo "XENO-VM: restart-server t=$(up)"
sleep 3
step restart-write-more sh -c 'dd if=/data/big.bin bs=65536 skip=64 count=64 2>/dev/null >&3'
exec 3>&-
step restart-sync sync
echo "XENO-VM: restarted-ok t=$(up)"
step restart-old-handle cat /data/hard-a
step restart-drop-caches sh -c 'echo 3 > /proc/sys/vm/drop_caches'
`
const RESTART_MODEL = String.raw`
step restart-write sh -c 'dd if=/data/big.bin of=/work/restart.bin bs=65536 count=128 2>/dev/null'
`

/** /init-check: runs in the guest from the NFS root, prints everything to the serial console, powers off. */
export function checkScript (): string {
  return `#!/bin/sh
export PATH=/bin TZ=UTC
up() { cut -d' ' -f1 /proc/uptime; }
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "XENO-VM: check-start t=$(up)"
echo "XENO-MOUNTS-BEGIN"
grep ' nfs ' /proc/mounts
echo "XENO-MOUNTS-END"
${FUNCTIONS}
step exec-template-script /data/exec.sh
step ls-lR sh -c 'ls -lR /bin /data /etc /deep /tmp >/dev/null'
step df df /
dump BEFORE /
# A second mount of the same export: READDIR instead of READDIRPLUS, 32 KiB reads and writes,
# synchronous writes. It must show the same tree.
for w in $(cat /proc/cmdline); do case $w in xeno.mnt=*) mopts=\${w#xeno.mnt=};; esac; done
export mopts
step mount-second mount -t nfs -o "$mopts,nosharecache,nordirplus,rsize=32768,wsize=32768,sync" 10.0.2.2:/export /mnt
echo "XENO-MOUNTS2-BEGIN"
grep ' /mnt ' /proc/mounts
echo "XENO-MOUNTS2-END"
echo "XENO-VM: second-dump-start t=$(up)"
dump SECOND /mnt
echo "XENO-VM: second-dump-end t=$(up)"
M=/mnt
echo 3 > /proc/sys/vm/drop_caches
t0=$(up)
step read-big sh -c 'dd if=/data/big.bin of=/dev/null bs=1M 2>/dev/null'
echo "XENO-VM: read-big from=$t0 to=$(up)"
R=
${WRITES}
step umount-second umount /mnt
step mount-subdir sh -c 'mount -t nfs -o "$mopts,nosharecache" 10.0.2.2:/export/data /mnt && test -f /mnt/small.txt && test ! -e /mnt/data && umount /mnt'
step mount-missing-refused sh -c '! mount -t nfs -o "$mopts,nosharecache" 10.0.2.2:/export/no-such-dir /mnt 2>/dev/null'
step mount-other-export-refused sh -c '! mount -t nfs -o "$mopts,nosharecache" 10.0.2.2:/elsewhere /mnt 2>/dev/null'
step sync sync
step drop-caches sh -c 'echo 3 > /proc/sys/vm/drop_caches'
${PROBES}
${RESTART}
dump AFTER /
echo "XENO-VM: check-end t=$(up)"
echo "XENO-DMESG-BEGIN"
dmesg | grep -i -E 'nfs|rpc|lockd|xeno'
echo "XENO-DMESG-END"
echo "XENO-VM-DONE"
sync
poweroff -f
`
}

/**
 * The same dump, or the write steps then the dump, run on the host by the tree's own busybox
 * chrooted into a directory (an export of the tree), exactly as the guest runs them: the steps
 * cannot touch anything outside it. Needs root, as the whole test does.
 */
export async function hostModel (root: string, label: string, withWrites: boolean): Promise<string> {
  const script = `export PATH=/bin TZ=UTC\n${FUNCTIONS}\nR=\n${withWrites ? `${WRITES}\n${PROBES}\n${RESTART_MODEL}` : ''}\ndump ${label} /\n`
  return await new Promise((resolve, reject) => {
    const child = spawn('chroot', [root, '/bin/sh', '-c', script], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (d: string) => { out += d })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('close', (code) => {
      const failed = [...out.matchAll(/^XENO-STEP (\S+) FAIL.*$/gm)].map((m) => m[0])
      if (code !== 0 || failed.length > 0) reject(new Error(`host model in ${root} failed (exit ${code}): ${failed.join('; ')} ${err}`))
      else resolve(out)
    })
  })
}

/** The lines between XENO-NAME-BEGIN and XENO-NAME-END of a transcript. */
export function section (text: string, name: string): string[] {
  const begin = text.indexOf(`XENO-${name}-BEGIN\n`)
  const end = text.indexOf(`XENO-${name}-END`, begin)
  if (begin < 0 || end < 0) return []
  return text.slice(begin + `XENO-${name}-BEGIN\n`.length, end).split('\n').filter((l) => l !== '' && !/^\[\s*\d+\.\d+\]/.test(l))
}

export interface DumpOptions {
  /** Entry times at or after this (seconds) are not compared (made "now" by guest or host). */
  since: number
  /** The dump's root when not / (stripped from every path). */
  prefix?: string
}

/**
 * A dump as comparable lines: the mount points /proc /sys /dev
 * (the guest mounts kernel file-systems there) reduced to their names, and what differs by
 * nature between an NFS client and a local file-system left out: directory sizes and link
 * counts, and times made during the run.
 */
export function normalizeDump (text: string, label: string, opts: DumpOptions): { stat: string[], sha: string[], link: string[] } {
  const prefix = opts.prefix ?? ''
  const rel = (p: string): string => prefix !== '' && p.startsWith(prefix) ? p.slice(prefix.length) || '/' : p
  const skip = (p: string): boolean => /^\/(proc|sys|dev)\//.test(p)
  const stat: string[] = []
  for (const line of section(text, `${label}-STAT`)) {
    const f = line.split('|')
    const p = rel(f[0]!)
    if (skip(p)) continue
    if (['/proc', '/sys', '/dev'].includes(p)) { stat.push(`${p}|mountpoint`); continue }
    const kind = f[1] === 'regular empty file' ? 'regular file' : f[1]!
    if (kind === 'directory') { f[3] = '-'; f[7] = '-' }
    if (Number(f[4]) >= opts.since) f[4] = 'now'
    stat.push([p, kind, ...f.slice(2)].join('|'))
  }
  const sha = section(text, `${label}-SHA`).map((l) => { const m = /^([0-9a-f]{64})\s+(.*)$/.exec(l); return m === null ? `?${l}` : `${rel(m[2]!)} ${m[1]!}` }).filter((l) => !skip(l.split(' ')[0]!))
  const link = section(text, `${label}-LINK`).map((l) => { const i = l.indexOf('|'); return `${rel(l.slice(0, i))}|${l.slice(i + 1)}` })
  return { stat: stat.sort(), sha: sha.sort(), link: link.sort() }
}

/** Lines only in `a` and only in `b`. */
export function diffLines (a: string[], b: string[]): { onlyA: string[], onlyB: string[] } {
  const sa = new Set(a)
  const sb = new Set(b)
  return { onlyA: a.filter((l) => !sb.has(l)), onlyB: b.filter((l) => !sa.has(l)) }
}
