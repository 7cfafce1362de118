import { BadPathError, NotDirError, NotFoundError } from './errors.js'
import type { Entry } from './interface.js'
import type { Tree } from './tree.js'

/** Symlinks followed in one resolution before giving up (Linux's MAXSYMLINKS). */
const MAX_SYMLINKS = 40

/**
 * Resolves `path` in `tree` the way the kernel would inside a chroot of it: `.` and `..`
 * (never above the root), symlinks in the middle of the path always followed, a final
 * symlink followed when `followLast`. Absolute link targets start again at the tree root.
 * Resolves the entry and its canonical path; rejects OVERLAY_NOT_FOUND, OVERLAY_NOT_DIR,
 * or OVERLAY_BAD_PATH for a symlink loop.
 */
export async function resolvePath (tree: Tree, path: string, followLast = true): Promise<{ entry: Entry, path: string }> {
  const todo = path.split('/').filter((s) => s !== '' && s !== '.').reverse()
  const stack: Array<{ name: string, entry: Entry }> = []
  const current = async (): Promise<Entry> => stack.length > 0 ? stack[stack.length - 1].entry : await tree.rootEntry()
  const where = (): string => '/' + stack.map((s) => s.name).join('/')
  let links = 0
  while (todo.length > 0) {
    const name = todo.pop()!
    if (name === '..') { stack.pop(); continue }
    const dir = await current()
    if (dir.kind !== 'dir') throw new NotDirError(where())
    const child = await tree.lookup(dir, name)
    if (child === undefined) throw new NotFoundError(`${where() === '/' ? '' : where()}/${name}`)
    if (child.kind === 'symlink' && (todo.length > 0 || followLast)) {
      if (++links > MAX_SYMLINKS) throw new BadPathError(path, 'too many levels of symbolic links')
      const target = child.target ?? ''
      if (target.startsWith('/')) stack.length = 0
      for (const seg of target.split('/').filter((s) => s !== '' && s !== '.').reverse()) todo.push(seg)
      continue
    }
    stack.push({ name, entry: child })
  }
  return { entry: await current(), path: where() }
}
