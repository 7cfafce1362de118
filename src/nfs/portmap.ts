import type { RpcProgram } from './server.js'

/** PORTMAP version 2 (RFC 1833 §3): a read-only table of this server's programs. */
export const PMAP_PROGRAM = 100000
export const PMAP_VERS = 2
export const PMAPPROC = { NULL: 0, SET: 1, UNSET: 2, GETPORT: 3, DUMP: 4 } as const
export const IPPROTO_TCP = 6
export const IPPROTO_UDP = 17

/** One (program, version, protocol) → port mapping (RFC 1833 §3 `struct mapping`). */
export interface Mapping { readonly prog: number, readonly vers: number, readonly prot: number, readonly port: number }

/**
 * The portmapper program over a fixed list of mappings (the server's own): GETPORT answers
 * from it (0 when unknown), DUMP lists it, SET and UNSET are refused (false); CALLIT is not
 * offered (PROC_UNAVAIL), since indirect calls amplify traffic.
 */
export function portmapProgram (mappings: () => readonly Mapping[]): RpcProgram {
  return {
    prog: PMAP_PROGRAM,
    vers: PMAP_VERS,
    procs: {
      [PMAPPROC.NULL]: () => () => {},
      [PMAPPROC.SET]: (args) => { args.uint32(); args.uint32(); args.uint32(); args.uint32(); return (out) => { out.bool(false) } },
      [PMAPPROC.UNSET]: (args) => { args.uint32(); args.uint32(); args.uint32(); args.uint32(); return (out) => { out.bool(false) } },
      [PMAPPROC.GETPORT]: (args) => {
        const prog = args.uint32()
        const vers = args.uint32()
        const prot = args.uint32()
        args.uint32()
        const m = mappings().find((x) => x.prog === prog && x.vers === vers && x.prot === prot)
        return (out) => { out.uint32(m?.port ?? 0) }
      },
      [PMAPPROC.DUMP]: () => (out) => {
        for (const m of mappings()) out.bool(true).uint32(m.prog).uint32(m.vers).uint32(m.prot).uint32(m.port)
        out.bool(false)
      }
    }
  }
}
