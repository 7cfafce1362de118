// Local chunk store micro-benchmark: prepareChunk, putPrepared, put, get, has/missing, reopen,
// and the layout question (pack files vs one file per chunk). Prints MiB/s; no assertions.
// Usage: node dist/bench/store.bench.js [TREE] (default /work/data/t1, else generated data;
// XENO_BENCH_MIB caps the bytes used, default 160).
import { existsSync } from 'node:fs'
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chunkLengths, cidForChunk, openLocalStore, prepareChunk, type PreparedChunk } from '../src/cas/index.js'
import { listFiles } from './lib/tree-data.js'
import { parseBenchArgs } from './lib/args.js'

const USAGE = `usage: node dist/bench/store.bench.js [TREE]   (default /work/data/t1, else generated data)
Local chunk store micro-benchmark (prepareChunk, putPrepared, put, get, has/missing, reopen;
pack files against one file per chunk). Env: XENO_BENCH_MIB caps the bytes used (default 160).`

const MIB = 1024 * 1024
const CAP = Number(process.env.XENO_BENCH_MIB ?? 160) * MIB

/** Content-defined chunks (CHUNKER_V1) of the tree's files, up to CAP bytes. */
async function loadChunks (tree: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  let total = 0
  if (existsSync(tree)) {
    for (const f of await listFiles(tree)) {
      if (total >= CAP) break
      const bytes = await readFile(f.path)
      let at = 0
      for (const len of chunkLengths(bytes)) { out.push(bytes.subarray(at, at + len)); at += len }
      total += bytes.length
    }
  } else {
    for (let i = 0; total < CAP; i++) {
      const b = new Uint8Array(65_536)
      if (i % 2 === 0) crypto.getRandomValues(b); else b.set(new TextEncoder().encode(`line ${i} of some text\n`.repeat(3000)).subarray(0, b.length))
      out.push(b); total += b.length
    }
  }
  return out
}

function rate (bytes: number, ms: number): string { return `${(bytes / MIB / (ms / 1000)).toFixed(0)} MiB/s` }
function perSec (n: number, ms: number): string { return `${Math.round(n / (ms / 1000)).toLocaleString('en')} /s` }
async function timed<T> (fn: () => Promise<T> | T): Promise<[T, number]> { const t = performance.now(); const r = await fn(); return [r, performance.now() - t] }

async function layoutComparison (chunks: Uint8Array[], work: string): Promise<void> {
  const sample = chunks.slice(0, 3000)
  const bytes = sample.reduce((n, c) => n + c.length, 0)
  for (const fsync of [false, true]) {
    const dir = join(work, `files-${String(fsync)}`)
    for (let i = 0; i < 256; i++) await mkdir(join(dir, i.toString(16).padStart(2, '0')), { recursive: true })
    const [, ms] = await timed(async () => {
      for (const c of sample) {
        const p = prepareChunk(c)
        const hex = Buffer.from(p.cid.multihash.digest).toString('hex')
        const path = join(dir, hex.slice(0, 2), p.cid.toString())
        const tmp = path + '.tmp'
        if (fsync) { const fh = await open(tmp, 'w'); await fh.write(p.payload); await fh.sync(); await fh.close() } else await writeFile(tmp, p.payload)
        await rename(tmp, path)
      }
    })
    console.log(`  file per chunk (tmp+rename${fsync ? ', fsync each' : ''}): ${sample.length} chunks, ${rate(bytes, ms)}, ${perSec(sample.length, ms)} (${sample.length} inodes)`)
  }
  const dir = join(work, 'packs-sample')
  const [packs, ms] = await timed(async () => {
    const store = await openLocalStore(dir)
    for (const c of sample) await store.putPrepared(prepareChunk(c))
    await store.close() // includes the fsyncs
    const again = await openLocalStore(dir)
    try { return await again.stats() } finally { await again.close() }
  })
  console.log(`  pack files (fsync at flush/close):      ${sample.length} chunks, ${rate(bytes, ms)}, ${perSec(sample.length, ms)} (${packs.packFiles} pack files + index)`)
}

async function main (): Promise<void> {
  const tree = parseBenchArgs(USAGE, {}, 1).positionals[0] ?? '/work/data/t1'
  const work = join(tmpdir(), `xeno-store-bench-${process.pid}`)
  await rm(work, { recursive: true, force: true })
  const chunks = await loadChunks(tree)
  const raw = chunks.reduce((n, c) => n + c.length, 0)
  console.log(`data: ${existsSync(tree) ? tree : 'generated'}, ${chunks.length} chunks, ${(raw / MIB).toFixed(1)} MiB (avg ${(raw / chunks.length / 1024).toFixed(1)} KiB)`)

  const [prepared, prepMs] = await timed(() => chunks.map((c) => prepareChunk(c)))
  const stored = prepared.reduce((n, p) => n + p.payload.length, 0)
  console.log(`prepareChunk (BLAKE3 + zstd-1 if smaller), 1 thread: ${rate(raw, prepMs)}; payload ${(stored / MIB).toFixed(1)} MiB (${(raw / stored).toFixed(2)}x)`)
  const [, hashMs] = await timed(() => { for (const c of chunks) cidForChunk(c) })
  console.log(`  of which BLAKE3 CID alone: ${rate(raw, hashMs)}`)

  const warm = await openLocalStore(join(work, 'warm-up')) // JIT warm-up, not measured
  for (const p of prepared.slice(0, 1000)) await warm.putPrepared(p)
  for (const p of prepared.slice(0, 1000)) await warm.get(p.cid)
  await warm.close()

  const dir = join(work, 'store')
  let store = await openLocalStore(dir)
  const cpu0 = process.cpuUsage()
  const [, putPrepMs] = await timed(async () => { for (const p of prepared) await store.putPrepared(p); await store.flush() })
  const cpu = process.cpuUsage(cpu0)
  console.log(`putPrepared (trusted, no re-hash) + flush: ${rate(raw, putPrepMs)}, ${perSec(prepared.length, putPrepMs)}; ` +
    `CPU ${((cpu.user + cpu.system) / prepared.length).toFixed(0)} µs/chunk (all threads) = ${((cpu.user + cpu.system) / 1e6 / (raw / 1024 ** 3)).toFixed(2)} CPU-s per GiB`)
  const [, dupMs] = await timed(async () => { for (const p of prepared) await store.putPrepared(p as PreparedChunk) })
  console.log(`putPrepared of chunks already stored (dedup lookups): ${rate(raw, dupMs)}, ${perSec(prepared.length, dupMs)}`)
  await store.close()
  const [reopened, openMs] = await timed(async () => await openLocalStore(dir))
  store = reopened
  console.log(`reopen after clean close: ${openMs.toFixed(0)} ms`)
  const [, getMs] = await timed(async () => { for (const p of prepared) await store.get(p.cid) })
  console.log(`get (read + zstd decompress + BLAKE3 verify), sequential: ${rate(raw, getMs)}, ${perSec(prepared.length, getMs)}`)
  const [, hasMs] = await timed(async () => { for (const p of prepared) await store.has(p.cid) })
  console.log(`has, one at a time: ${perSec(prepared.length, hasMs)}`)
  const [, missMs] = await timed(async () => { for await (const _ of store.missing(prepared.map((p) => p.cid))) { /* none */ } })
  console.log(`missing (batched): ${perSec(prepared.length, missMs)}`)
  const s = await store.stats()
  console.log(`store: ${s.chunks} chunks, raw ${(s.rawBytes / MIB).toFixed(1)} MiB, stored ${(s.storedBytes / MIB).toFixed(1)} MiB in ${s.packFiles} pack files`)
  await store.close()

  const dir2 = join(work, 'store2')
  const store2 = await openLocalStore(dir2)
  const [, putMs] = await timed(async () => { for (const c of chunks) await store2.put(cidForChunk(c), c); await store2.flush() })
  console.log(`put (CID given, verified + compressed in the store) + flush: ${rate(raw, putMs)} (includes the hash the caller did)`)
  await store2.close()

  console.log('layout (first 3000 chunks, same data):')
  await layoutComparison(chunks, work)
  await rm(work, { recursive: true, force: true })
}

await main()
