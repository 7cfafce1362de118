/** Figures for people, shared by every command's human output and progress bars. */

/** `n` bytes in binary units: `512 B`, `1.5 KiB`, `2.0 GiB` (negative for what was freed). */
export function formatBytes (n: number): string {
  if (Math.abs(n) < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(1)} ${units[i]}`
}

/** `n` and its noun, singular for one: `1 file`, `2 files`, `0 hard links`. */
export function count (n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`
}
