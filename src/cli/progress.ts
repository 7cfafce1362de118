import { formatBytes } from '../util/format.js'

/** A progress indicator. Every method is cheap to call often; rendering is rate-limited. */
export interface Progress {
  /** Adds `n` to the amount done. */
  add (n: number): void
  /** Sets the total (when it becomes known later). */
  setTotal (total: number): void
  /** Replaces the free-text detail shown after the bar. */
  detail (text: string): void
  /** Clears the line. Idempotent. */
  done (): void
}

const SILENT: Progress = { add () {}, setTotal () {}, detail () {}, done () {} }

const RENDER_INTERVAL_MS = 100
const BAR_WIDTH = 24

function formatAmount (n: number, unit: 'bytes' | 'items'): string {
  return unit === 'items' ? String(n) : formatBytes(n)
}

/**
 * A one-line progress bar on `stream` when it is a TTY (and `enabled`), otherwise silent,
 * so piped output stays clean.
 */
export function createProgress (label: string, options: {
  total?: number, unit?: 'bytes' | 'items', enabled: boolean, stream?: NodeJS.WriteStream
}): Progress {
  const stream = options.stream ?? process.stderr
  if (!options.enabled || stream.isTTY !== true) return SILENT
  const unit = options.unit ?? 'items'
  let total = options.total
  let done = 0
  let text = ''
  let last = 0
  let finished = false
  const started = Date.now()
  const render = (force: boolean): void => {
    const now = Date.now()
    if (!force && now - last < RENDER_INTERVAL_MS) return
    last = now
    const secs = Math.max((now - started) / 1000, 0.001)
    const rate = unit === 'bytes' ? ` ${formatAmount(Math.round(done / secs), unit)}/s` : ''
    let bar = ''
    if (total !== undefined && total > 0) {
      const frac = Math.min(done / total, 1)
      const filled = Math.round(frac * BAR_WIDTH)
      bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% `
    }
    const amount = total !== undefined ? `${formatAmount(done, unit)}/${formatAmount(total, unit)}` : formatAmount(done, unit)
    const line = `${label} ${bar}${amount}${rate}${text !== '' ? ' ' + text : ''}`
    const width = stream.columns || 80
    stream.write(`\r${line.slice(0, width - 1).padEnd(width - 1)}`)
  }
  return {
    add (n) { done += n; render(false) },
    setTotal (t) { total = t; render(false) },
    detail (t) { text = t; render(false) },
    done () {
      if (finished) return
      finished = true
      stream.write(`\r${' '.repeat((stream.columns || 80) - 1)}\r`)
    }
  }
}

/**
 * Transfer callbacks (push, pull) that drive `bar` (unit 'items'): blocks moved against the
 * total once it is planned (blocks before the plan, a pull's tree nodes, count in it), with
 * the bytes and their rate as the detail. A delta stands for several blocks, so an update may
 * end short of 100%.
 */
export function transferProgress (bar: Progress): { onPlan: (blocks: number) => void, onBlock: (bytes: number) => void } {
  const started = Date.now()
  let blocks = 0
  let bytes = 0
  return {
    onPlan: (n) => { bar.setTotal(blocks + n) },
    onBlock: (n) => {
      blocks++
      bytes += n
      const secs = Math.max((Date.now() - started) / 1000, 0.001)
      bar.add(1)
      bar.detail(`blocks, ${formatBytes(bytes)} at ${formatBytes(Math.round(bytes / secs))}/s`)
    }
  }
}
