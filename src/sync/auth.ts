import { createHash, timingSafeEqual } from 'node:crypto'
import type { SyncConfig } from './config.js'
import { ForbiddenError, UnauthorizedError } from './errors.js'
import { nameInPrefix } from './names.js'

/** Pseudo-tenant owning the blocks of public templates (not a valid tenant name, so no token maps to it). */
export const PUBLIC_TENANT = '#public'
/** The single tenant of a server without a config. */
export const OPEN_TENANT = 'default'

/** Who is calling, and what they may do. */
export interface Principal {
  readonly tenant: string
  /** True on a server without a config: every block is visible, no ownership is tracked. */
  readonly open: boolean
  readonly read: readonly string[]
  readonly write: readonly string[]
}

/** The principal of every request on a server without a config. */
export const OPEN_PRINCIPAL: Principal = { tenant: OPEN_TENANT, open: true, read: [''], write: [''] }

function digest (token: string): Buffer { return createHash('sha256').update(token, 'utf8').digest() }

/**
 * Maps `Authorization: Bearer <token>` to a Principal. Built once from the config; token
 * comparison is by SHA-256 digest in constant time.
 */
export function createAuthenticator (config: SyncConfig | undefined): (authorization: string | undefined) => Principal {
  if (config?.tenants === undefined) return () => OPEN_PRINCIPAL
  const entries: Array<{ digest: Buffer, principal: Principal }> = []
  for (const [tenant, t] of Object.entries(config.tenants)) {
    for (const tok of t.tokens) entries.push({ digest: digest(tok.token), principal: { tenant, open: false, read: tok.read, write: tok.write } })
  }
  return (authorization) => {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')
    if (m === null) throw new UnauthorizedError()
    const d = digest(m[1])
    for (const e of entries) if (timingSafeEqual(e.digest, d)) return e.principal
    throw new UnauthorizedError()
  }
}

/** Throws ForbiddenError unless `p` may read `name`. */
export function requireRead (p: Principal, name: string): void {
  if (!p.read.some((prefix) => nameInPrefix(name, prefix))) throw new ForbiddenError(`tenant "${p.tenant}" may not read "${name}"`)
}

/** Throws ForbiddenError unless `p` may write `name`. */
export function requireWrite (p: Principal, name: string): void {
  if (!p.write.some((prefix) => nameInPrefix(name, prefix))) throw new ForbiddenError(`tenant "${p.tenant}" may not write "${name}"`)
}

/** Throws ForbiddenError unless `p` has some write scope (needed to upload blocks). */
export function requireUpload (p: Principal): void {
  if (p.write.length === 0) throw new ForbiddenError(`this token of tenant "${p.tenant}" is read-only`)
}

/** Throws ForbiddenError unless `p` has some read scope (needed to ask for blocks). */
export function requireBlockRead (p: Principal): void {
  if (p.read.length === 0 && p.write.length === 0) throw new ForbiddenError(`this token of tenant "${p.tenant}" may not read blocks`)
}
