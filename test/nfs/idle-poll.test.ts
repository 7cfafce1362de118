import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { IdlePoll } from '../../src/nfs/idle-poll.js'

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
  const poll = new IdlePoll(500)
  answered(poll)
  // Work between two turns (this thread busy for 20 ms: large replies being written; long
  // enough that a moment of the hypervisor's steal cannot take half of it).
  const until = performance.now() + 20
  while (performance.now() < until) { /* busy */ }
  await turn(); await turn()
  assert.is(poll.stats.preempted, 0, 'busy, not preempted')
  // The thread off its core for 40 ms (blocked in the kernel: what preemption looks like to it;
  // long enough that V8's own threads, whose CPU getrusage also counts, cannot fill half of it).
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 40)
  await turn()
  assert.is(poll.stats.preempted, 1, 'asleep: preempted')
  // After a preemption the next replies do not poll.
  const polls = poll.stats.polls
  answered(poll)
  await turn()
  assert.is(poll.stats.polls, polls)
})

Poll.run()
