/**
 * The environment benchmarks spawn their tools with. NODE_EXTRA_CA_CERTS is unset for every
 * tool unless XENO_BENCH_KEEP_CA_CERTS=1: this workplace points it at the whole system CA
 * bundle, which node parses at every start before any JavaScript (`node -e 0`: 0.07-0.11 s of
 * CPU with it, 0.01-0.02 s without), a cost of the environment that no peer pays and that a
 * stock Debian does not set. Returns the line to print, so every run says which it did.
 */
export function settleBenchEnvironment (): string | undefined {
  const caCerts = process.env.NODE_EXTRA_CA_CERTS
  if (caCerts === undefined) return undefined
  if (process.env.XENO_BENCH_KEEP_CA_CERTS === '1') return `NODE_EXTRA_CA_CERTS=${caCerts} kept: node parses it at every start`
  delete process.env.NODE_EXTRA_CA_CERTS // tools are spawned with process.env
  return `NODE_EXTRA_CA_CERTS (${caCerts}) unset for every tool; XENO_BENCH_KEEP_CA_CERTS=1 keeps it`
}
