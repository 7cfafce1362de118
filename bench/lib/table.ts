/** One column of a results table: a header, how to get the cell from a row, and how to align it. */
export interface Column<R> {
  readonly header: string
  readonly cell: (row: R) => string
  readonly align?: 'left' | 'right'
}

/** Renders rows as a GitHub-flavoured Markdown table (readable as plain text too). */
export function renderTable<R> (columns: readonly Column<R>[], rows: readonly R[]): string {
  const cells = rows.map((row) => columns.map((c) => c.cell(row)))
  const widths = columns.map((c, i) => Math.max(c.header.length, 3, ...cells.map((r) => r[i].length)))
  const pad = (text: string, i: number): string =>
    (columns[i].align ?? 'right') === 'left' ? text.padEnd(widths[i]) : text.padStart(widths[i])
  const line = (parts: string[]): string => `| ${parts.join(' | ')} |`
  return [
    line(columns.map((c, i) => pad(c.header, i))),
    line(columns.map((c, i) => (c.align ?? 'right') === 'left' ? '-'.repeat(widths[i]) : '-'.repeat(widths[i] - 1) + ':')),
    ...cells.map((r) => line(r.map(pad)))
  ].join('\n')
}

/** Seconds with 2 decimals ("1.23 s"); a dash for undefined. */
export function fmtSeconds (s: number | undefined): string {
  return s === undefined ? '-' : `${s.toFixed(2)} s`
}

/** Bytes in decimal megabytes ("96.9 MB"), as the issues quote them; a dash for undefined. */
export function fmtMB (bytes: number | undefined): string {
  return bytes === undefined ? '-' : `${(bytes / 1e6).toFixed(1)} MB`
}

/** Bytes in MiB ("240 MiB"), for memory. */
export function fmtMiB (bytes: number | undefined): string {
  return bytes === undefined ? '-' : `${(bytes / 1048576).toFixed(0)} MiB`
}

/** A throughput in MB/s (decimal) from bytes and seconds. */
export function fmtRate (bytes: number, seconds: number): string {
  return seconds > 0 ? `${(bytes / 1e6 / seconds).toFixed(0)} MB/s` : '-'
}

/**
 * `value / reference` as "2.31x"; a dash when either is missing or the reference is zero.
 * For costs (time, bytes, memory) a ratio above 1 means the row costs more than the reference.
 */
export function fmtRatio (value: number | undefined, reference: number | undefined): string {
  if (value === undefined || reference === undefined || reference === 0) return '-'
  return `${(value / reference).toFixed(2)}x`
}

/** Plain integer with thousands separators ("10,260"). */
export function fmtCount (n: number | undefined): string {
  return n === undefined ? '-' : n.toLocaleString('en-US')
}
