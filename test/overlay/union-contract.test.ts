import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { openTree } from '../../src/overlay/tree.js'
import { openUnionView } from '../../src/overlay/union-view.js'
import { openWritableLayer } from '../../src/overlay/writable.js'
import { CONTRACT_TREE, resolverContract } from '../contract/resolver.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { buildTree, type Spec } from './union-helpers.js'

function spec (): Spec {
  const s: Spec = {}
  for (const d of CONTRACT_TREE.dirs) s[d] = { dir: true }
  for (const [p, t] of Object.entries(CONTRACT_TREE.files)) s[p] = t
  for (const [p, t] of Object.entries(CONTRACT_TREE.symlinks)) s[p] = { symlink: t }
  return s
}

resolverContract('one immutable layer', async () => {
  const store = new MemoryChunkStore()
  return await openUnionView({ lowers: [openTree(store, await buildTree(store, spec()))], store })
})

resolverContract('three stacked layers with whiteouts and an opaque directory', async () => {
  const store = new MemoryChunkStore()
  const top = await buildTree(store, { '/etc/passwd': 'root:x:0:0', '/gone': { whiteout: true }, '/var/empty': { dir: true, opaque: true } })
  const mid = await buildTree(store, { '/etc/hosts': '127.0.0.1 localhost', '/etc/passwd': 'old', '/bin': { symlink: 'usr/bin' }, '/empty': '' })
  const bottom = await buildTree(store, { '/usr/bin/env': 'ELF', '/gone': 'x', '/var/empty/hidden': 'h', '/etc/passwd': 'older' })
  return await openUnionView({ lowers: [openTree(store, top), openTree(store, mid), openTree(store, bottom)], store })
})

resolverContract('a writable layer filled by operations over an empty tree', async () => {
  const store = new MemoryChunkStore()
  const dir = await tmpdir()
  const layer = await openWritableLayer(dir)
  const view = await openUnionView({ lowers: [openTree(store, await buildTree(store, {}))], store, writable: layer })
  for (const d of CONTRACT_TREE.dirs) await view.mkdir(d)
  for (const [p, t] of Object.entries(CONTRACT_TREE.files)) { await view.create(p); await view.write(p, 0, new TextEncoder().encode(t)) }
  for (const [p, t] of Object.entries(CONTRACT_TREE.symlinks)) await view.symlink(p, t)
  const close = view.close.bind(view)
  return Object.assign(view, { close: async () => { await close(); await layer.close(); await rmrf(dir) } })
})
