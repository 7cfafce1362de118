import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { diffLines, hostModel, makeOverlay, makeTemplate, checkScript, normalizeDump, NOW_SINCE, section } from './guest.js'
import { runXeno, XENO_BIN as xeno } from '../helpers/cli.js'
import { buildInitramfs, GUEST_MODULES, initScript, mountOptions, resolveModules, runVm, type VmTools } from './machine.js'

/**
 * One boot of a real Linux kernel from `xeno nfs serve`, end to end (shared by the test in
 * boot.test.ts and the script bench/vm/boot.ts): build a template and an overlay, serve them with
 * a writable layer, boot the kernel under QEMU with an initramfs that mounts the export over
 * NFSv3/TCP and runs /init-check from it, then compare what the guest saw and wrote with a model
 * run by busybox on the host over a plain directory, and read the writes back through xeno.
 */

export { runXeno }

const rootOf = (json: string): string => (JSON.parse(json) as { root: string }).root

export async function serve (args: string[]): Promise<{ child: ChildProcess, port: number, mountPort: number, log: () => string }> {
  const child = spawn(process.execPath, [xeno, 'nfs', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const ports = await new Promise<[number, number]>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening on [^:]+:(\d+) \(mount (\d+)/.exec(out)
      if (m !== null) resolve([Number(m[1]), Number(m[2])])
    })
    child.on('close', () => { reject(new Error(`xeno nfs serve exited: ${out}`)) })
  })
  return { child, port: ports[0], mountPort: ports[1], log: () => out }
}

export interface Comparison { name: string, onlyGuest: string[], onlyModel: string[] }

export interface BootResult {
  transcript: string
  serverLog: string
  mountOptions: string
  /** Lines of /proc/mounts for the NFS root as the guest saw it. */
  mounts: string[]
  steps: Array<{ name: string, ok: boolean, line: string }>
  done: boolean
  vmSeconds: number
  timedOut: boolean
  /** Guest uptime (s) at: initramfs start, NFS mounted, check start, check end. */
  uptime: { initramfs?: number, mounted?: number, checkStart?: number, checkEnd?: number, readBig?: number }
  /** Guest view vs host model, before and after the writes; xeno's committed layer vs the model. */
  comparisons: Comparison[]
  templateUnchanged: boolean
  /** The server was killed (-9) and started again while the guest was writing. */
  restarted: boolean
  /** The server's access trace (--trace): files in first-READ order (both server runs), and blocks read. */
  trace: { files: string[], chunks: number, remote: number }
  dmesg: string[]
}

const probes = (text: string): string[] => [...text.matchAll(/^XENO-PROBE .*$/gm)].map((m) => m[0])

function compare (name: string, guest: ReturnType<typeof normalizeDump>, model: ReturnType<typeof normalizeDump>): Comparison[] {
  return (['stat', 'sha', 'link'] as const).map((k) => {
    const d = diffLines(guest[k], model[k])
    return { name: `${name} ${k}`, onlyGuest: d.onlyA, onlyModel: d.onlyB }
  })
}

/** `xeno store serve` with its data in `data`, on a free loopback port. */
export async function startStore (data: string): Promise<{ url: string, stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [xeno, 'store', 'serve', '--store', data, '--data', data, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening on (\S+)/.exec(out)
      if (m !== null) resolve(m[1]!)
    })
    child.on('close', () => { reject(new Error(`xeno store serve exited: ${out}`)) })
  })
  return {
    url,
    stop: async () => {
      const gone = new Promise((resolve) => child.on('close', resolve))
      child.kill('SIGINT')
      await gone
    }
  }
}

export async function bootCheck (tools: VmTools, dir: string, opts: { timeoutMs: number, lazy?: boolean, portmap?: boolean, onConsole?: (t: string) => void }): Promise<BootResult> {
  const store = join(dir, 'store')
  const tplDir = join(dir, 'template')
  const ovDir = join(dir, 'overlay')
  await makeTemplate(tplDir, tools.busybox, checkScript())
  const { whiteouts } = await makeOverlay(ovDir)
  const tpl = rootOf(await runXeno(['template', 'import', tplDir, '--store', store, '--json']))
  const ov = rootOf(await runXeno(['overlay', 'build', ovDir, '--base', tpl, ...whiteouts.flatMap((w) => ['--whiteout', w]), '--store', store, '--json']))
  const tplListing = await runXeno(['ls', '-R', tpl, '--json', '--store', store])
  // The host model: the union as xeno exports it, dumped by the same busybox commands.
  const model = join(dir, 'model')
  await runXeno(['export', '--layer', ov, '--layer', tpl, model, '--store', store])
  const modelBefore = await hostModel(model, 'BEFORE', false)

  const upper = join(dir, 'upper')
  const traceFile = join(dir, 'trace.jsonl')
  // Lazy: the NFS server starts with an empty store and fetches every block (tree nodes and
  // chunks) on first read from a XenoStore on loopback that holds the template and overlay.
  let storeServer: Awaited<ReturnType<typeof startStore>> | undefined
  if (opts.lazy === true) {
    storeServer = await startStore(join(dir, 'xenostore'))
    for (const root of [tpl, ov]) await runXeno(['push', root, '--to', storeServer.url, '--store', store])
  }
  const serveArgs = ['--store', storeServer === undefined ? store : join(dir, 'lazy-store'), ...(storeServer === undefined ? [] : ['--from', storeServer.url]),
    '--layer', ov, '--layer', tpl, '--writable', upper, '--state', join(dir, 'nfs-state'), '--allow', '127.0.0.1', '--trace', traceFile,
    ...(opts.portmap === true ? ['--portmap-port', '111'] : [])]
  let server = await serve([...serveArgs, '--listen', '127.0.0.1:0', '--mount-port', '0'])
  const { port, mountPort } = server
  const serverLogs: string[] = []
  // Kill -9 and restart on the same ports when the guest asks (see RESTART in guest.ts).
  let restart: Promise<void> | undefined
  let restarted = false
  let seen = ''
  const onConsole = (text: string): void => {
    opts.onConsole?.(text)
    seen = (seen + text).slice(-200)
    if (restart === undefined && seen.includes('XENO-VM: restart-server')) {
      restart = (async () => {
        const old = server
        const gone = new Promise((resolve) => old.child.on('close', resolve))
        old.child.kill('SIGKILL')
        await gone
        serverLogs.push(old.log())
        server = await serve([...serveArgs, '--listen', `127.0.0.1:${port}`, '--mount-port', String(mountPort)])
        restarted = true
      })()
    }
  }
  let vm
  let spec
  try {
    const modules = await resolveModules(tools.modulesDir, GUEST_MODULES)
    // With the portmapper on 111 (10.0.2.2:111 in the guest), the kernel asks it for both ports.
    spec = { nfsPort: port, mountPort, export: '/export', options: opts.portmap === true ? 'vers=3,proto=tcp,mountproto=tcp,nolock,addr=10.0.2.2' : mountOptions({ nfsPort: port, mountPort }) }
    const initrd = join(dir, 'initrd.cpio')
    await writeFile(initrd, buildInitramfs(await readFile(tools.busybox), initScript(modules.map((m) => m.name), spec, '/init-check'), modules))
    vm = await runVm({ qemu: tools.qemu, kernel: tools.kernel, initrd, append: `console=ttyS0 quiet panic=-1 xeno.mnt=${spec.options}`, timeoutMs: opts.timeoutMs, onConsole })
    await restart
  } finally {
    await restart?.catch(() => {})
    const closed = new Promise((resolve) => server.child.on('close', resolve))
    server.child.kill('SIGINT')
    await closed
    serverLogs.push(server.log())
    if (storeServer !== undefined) await storeServer.stop()
  }
  const t = vm.console
  const steps = [...t.matchAll(/^XENO-STEP (\S+) (ok|FAIL.*)$/gm)].map((m) => ({ name: m[1]!, ok: m[2] === 'ok', line: m[0] }))
  const num = (re: RegExp): number | undefined => { const m = re.exec(t); return m === null ? undefined : Number(m[1]) }
  const readFrom = num(/read-big from=([\d.]+)/)
  const readTo = num(/read-big from=[\d.]+ to=([\d.]+)/)

  // The model after the same writes; xeno's view of the writable layer, committed and exported.
  const modelAfter = await hostModel(model, 'AFTER', true)
  const committed = rootOf(await runXeno(['overlay', 'commit', upper, '--layer', ov, '--layer', tpl, '--json', '--store', store]))
  const final = join(dir, 'final')
  await runXeno(['export', '--layer', committed, '--layer', ov, '--layer', tpl, final, '--store', store])
  const finalDump = await hostModel(final, 'AFTER', false)
  const trace = (await readFile(traceFile, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { file?: number, chunk?: string, path?: string, from?: string })
  const templateUnchanged = (await runXeno(['ls', '-R', tpl, '--json', '--store', store])) === tplListing

  const n = (text: string, label: string): ReturnType<typeof normalizeDump> => normalizeDump(text, label, { since: NOW_SINCE })
  const comparisons = [
    ...compare('guest before writes vs model', n(t, 'BEFORE'), n(modelBefore, 'BEFORE')),
    ...compare('guest second mount (nordirplus, 32 KiB, sync) vs model', normalizeDump(t, 'SECOND', { since: NOW_SINCE, prefix: '/mnt' }), n(modelBefore, 'BEFORE')),
    ...compare('guest after writes vs model', n(t, 'AFTER'), n(modelAfter, 'AFTER')),
    ...compare('writable layer (xeno export) vs model', n(finalDump, 'AFTER'), n(modelAfter, 'AFTER')),
    { name: 'guest probes vs model', ...(({ onlyA, onlyB }) => ({ onlyGuest: onlyA, onlyModel: onlyB }))(diffLines(probes(t), probes(modelAfter))) }
  ]
  return {
    transcript: t,
    serverLog: serverLogs.join('\n--- restarted (kill -9) ---\n'),
    restarted,
    trace: { files: trace.filter((e) => e.file !== undefined).map((e) => e.path ?? `#${e.file!}`), chunks: trace.filter((e) => e.chunk !== undefined).length, remote: trace.filter((e) => e.from === 'remote').length },
    mountOptions: spec.options,
    mounts: [...section(t, 'MOUNTS'), ...section(t, 'MOUNTS2')],
    steps,
    done: /^XENO-VM-DONE$/m.test(t),
    vmSeconds: vm.seconds,
    timedOut: vm.timedOut,
    uptime: {
      initramfs: num(/XENO-VM: initramfs t=([\d.]+)/),
      mounted: num(/XENO-VM: mounted t=([\d.]+)/),
      checkStart: num(/XENO-VM: check-start t=([\d.]+)/),
      checkEnd: num(/XENO-VM: check-end t=([\d.]+)/),
      readBig: readFrom !== undefined && readTo !== undefined ? readTo - readFrom : undefined
    },
    comparisons,
    templateUnchanged,
    dmesg: section(t, 'DMESG')
  }
}
