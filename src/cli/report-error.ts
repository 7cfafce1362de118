/**
 * Turns any thrown value into one clear line for a person: the domain message, then the
 * causes that add information. Stack traces only with XENO_DEBUG=1.
 */
export function describeError (err: unknown): string {
  if (process.env.XENO_DEBUG === '1' && err instanceof Error && err.stack !== undefined) return err.stack
  if (!(err instanceof Error)) return String(err)
  const parts = [err.message]
  let cause = (err as { cause?: unknown }).cause
  for (let depth = 0; cause instanceof Error && depth < 3; depth++) {
    if (!parts.some((p) => p.includes(cause instanceof Error ? cause.message : ''))) parts.push(cause.message)
    cause = (cause as { cause?: unknown }).cause
  }
  const sys = err as NodeJS.ErrnoException
  if (sys.syscall !== undefined && sys.path !== undefined && !parts[0].includes(sys.path)) parts[0] += ` (${sys.path})`
  return parts.join(': ')
}
