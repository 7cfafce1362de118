import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { IdlePoll } from '../../src/nfs/idle-poll.js'
import { storeAddon } from '../../src/cas/addon.js'

const Poll = suite('IdlePoll')

const turn = async (): Promise<void> => { await new Promise<void>((resolve) => { setImmediate(resolve) }) }

/** Starts a poll window on `poll`, as an answered call does when no other is in flight. */
function answered (poll: IdlePoll): void {
  poll.begin()
  poll.end()
}

Poll('a window of turns follows the last reply in flight, none while calls are', async () => {
  const poll = new IdlePoll(1)
  poll.begin(); poll.begin(); poll.end()
  await turn()
  assert.is(poll.stats.polls, 0, 'a call still in flight')
  poll.end()
  assert.is(poll.stats.polls, 1)
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.ok(poll.stats.turns >= 1)
})

Poll('no window when polling is off', async () => {
  const poll = new IdlePoll(0)
  answered(poll)
  await turn()
  assert.is(poll.stats.polls, 0)
})

Poll('a late turn spent answering calls is not a preemption; one spent asleep is', async () => {
  // Times from a clock this test sets: whether a turn came late busy or asleep is the poll's
  // decision under test, not how this machine's scheduler treats the test process.
  const clock = { t: 0, c: 0, now () { return this.t }, cpu () { return this.c } }
  const poll = new IdlePoll(500, clock)
  answered(poll)
  // The next turn comes 5 ms later, and the thread ran all along (a large reply was written).
  clock.t += 5; clock.c += 5
  await turn()
  assert.is(poll.stats.preempted, 0, 'busy, not preempted')
  // The next one 40 ms later, with 0.5 ms of it run: the thread was off its core.
  clock.t += 40; clock.c += 0.5
  await turn()
  assert.is(poll.stats.preempted, 1, 'asleep: preempted')
  // After a preemption the next replies do not poll.
  const polls = poll.stats.polls
  answered(poll)
  await turn()
  assert.is(poll.stats.polls, polls)
})

Poll('the poll\'s CPU clock is this thread\'s: a busy loop advances it, a sleep does not', async () => {
  // The addon's CLOCK_THREAD_CPUTIME_ID (without the addon the poll falls back on getrusage).
  const cpu = storeAddon()?.threadCpuMs
  assert.ok(cpu !== undefined, 'the addon is built and has threadCpuMs')
  const c0 = cpu()!
  const until = performance.now() + 10
  while (performance.now() < until) { /* busy */ }
  const c1 = cpu()!
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 40)
  const c2 = cpu()!
  assert.ok(c1 > c0, `busy: ${c1 - c0} ms`)
  assert.ok(c2 - c1 < 20, `asleep: ${c2 - c1} ms of CPU in 40 ms`)
})

Poll.run()
