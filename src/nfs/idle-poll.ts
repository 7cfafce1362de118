import { storeAddon } from '../cas/addon.js'

/**
 * Keeps the server's thread awake for a short while after it answered every call in flight,
 * so that a client's next call (nfs-ls and nfs-cat send one at a time, some tens of µs after
 * each reply) is picked up without the thread sleeping in the kernel and being woken again.
 * That holds for a one-shot client too: nfs-cat makes ten calls over two
 * connections, and polling after each (not only on connections that had made 16 calls, as
 * until session 9) cut the server's sleeps per file from 12 to 4 and took `bench/nfs --only
 * small` from 0.95-1.01x ganesha to 1.05-1.17x (4 alternating pairs).
 * What that saves was measured on this 2-core VM (README, NFS section): when the client and
 * the server run on different cores, each sleep hands the server's core to another process (or
 * halts the vCPU: this guest does no halt polling) and the server comes back to cold caches:
 * its CPU per call for `nfs-ls -R` was 3-4x that of runs where client and server alternate on
 * one core, 5-8x in user time. While polling, the event loop runs with a zero poll timeout (a
 * pending setImmediate), so each turn is one non-blocking epoll_wait.
 *
 * Adaptive, like the kernel's haltpoll governor: the window follows the gaps seen between a
 * reply and the next call (up to `maxMs`); gaps longer than that shrink it to nothing. When
 * a turn of the loop is late and the thread did not run meanwhile (it was preempted: other
 * processes want this core), polling stops for the next `BACKOFF_CALLS` replies, so a busy
 * machine loses little CPU to it. A turn late because calls were answered in between is not
 * one (a 1 MiB READ's write alone takes ~300 µs here: counted as preemptions, they had turned
 * polling off for all but a few of a sequential reader's calls).
 */
export class IdlePoll {
  readonly #maxMs: number
  readonly #clock: IdleClock
  readonly #tick = (): void => { this.#turn() }
  /** Current window, ms (0: do not poll). */
  #windowMs: number
  /** Polling until this time (clock.now()), while #active. */
  #until = 0
  #active = false
  /** Time of the last turn (or of the reply that started polling). */
  #last = 0
  /** This thread's CPU time at #last, ms (cpuMs). */
  #lastCpu = 0
  /** Time of the last reply after which nothing was in flight; 0 once a call arrived. */
  #repliedAt = 0
  /** Replies to let pass without polling (after a preemption). */
  #backoff = 0
  /** Calls being answered, over every connection. */
  #inFlight = 0
  readonly stats = { polls: 0, turns: 0, preempted: 0 }

  /** `maxMs`: the longest window (0: never poll); `clock`: where times come from (tests give their own). */
  constructor (maxMs: number, clock: IdleClock = REAL_CLOCK) {
    this.#clock = clock
    this.#maxMs = maxMs
    this.#windowMs = maxMs
  }

  /** A call arrived (its reply is due): adapts the window to the gap since the last reply. */
  begin (): void {
    if (this.#inFlight++ === 0 && this.#repliedAt !== 0) this.#arrived()
  }

  /**
   * A call was answered (or needs no reply): polls once none is left. After a client's last
   * call nothing comes within the window, and the window shrinks (see #arrived).
   */
  end (): void {
    if (--this.#inFlight === 0) this.#idle()
  }

  #idle (): void {
    if (this.#maxMs === 0) return
    const now = this.#clock.now()
    this.#repliedAt = now
    if (this.#backoff > 0) { this.#backoff--; return }
    if (this.#windowMs === 0) return
    this.#until = now + this.#windowMs
    if (this.#active) return
    this.#active = true
    this.#last = now
    this.#lastCpu = this.#clock.cpu()
    this.stats.polls++
    setImmediate(this.#tick)
  }

  #arrived (): void {
    const gap = this.#clock.now() - this.#repliedAt
    this.#repliedAt = 0
    if (gap <= this.#maxMs) this.#windowMs = Math.min(this.#maxMs, Math.max(this.#windowMs, gap * GROW))
    else this.#windowMs = this.#windowMs < MIN_WINDOW_MS ? 0 : this.#windowMs / 2
  }

  #turn (): void {
    const now = this.#clock.now()
    const cpu = this.#clock.cpu()
    this.stats.turns++
    // A late turn is a preemption only if this thread did not run for most of the time: a late
    // turn that was busy answered calls in between (a 1 MiB READ's write takes ~300 µs).
    if (now - this.#last > PREEMPTED_MS && cpu - this.#lastCpu < (now - this.#last) / 2) {
      // This thread did not run for a while: another process wanted the core.
      this.stats.preempted++
      this.#active = false
      this.#backoff = BACKOFF_CALLS
      return
    }
    this.#last = now
    this.#lastCpu = cpu
    if (now < this.#until) setImmediate(this.#tick)
    else this.#active = false
  }
}

/** CPU time this process has used, ms (all its threads: getrusage). */
function processCpuMs (): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/**
 * CPU time of this thread so far, ms: the addon's CLOCK_THREAD_CPUTIME_ID where it is built (the
 * thread pool's work, such as a lazy export compressing what it fetched, then cannot hide this
 * thread's preemption), else the whole process's.
 */
const cpuMs: () => number = ((): () => number => {
  const thread = storeAddon()?.threadCpuMs
  return thread !== undefined && thread() !== undefined ? thread as () => number : processCpuMs
})()

/** Where the poll reads the time: `now` wall-clock ms (monotonic), `cpu` this thread's CPU ms. */
export interface IdleClock {
  now: () => number
  cpu: () => number
}

const REAL_CLOCK: IdleClock = { now: () => performance.now(), cpu: cpuMs }

/** A window covers this multiple of the gaps it has seen. */
const GROW = 1.5
/** Windows below this are not worth a turn of the loop. */
const MIN_WINDOW_MS = 0.01
/** A turn of the loop takes a few µs; one this late, the thread having run less than half of it, was preempted. */
const PREEMPTED_MS = 0.1
/** Replies answered without polling after a preemption. */
const BACKOFF_CALLS = 64
