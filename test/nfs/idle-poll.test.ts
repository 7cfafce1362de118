import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { IdlePoll } from '../../src/nfs/idle-poll.js'

const Poll = suite('IdlePoll')

const turn = async (): Promise<void> => { await new Promise<void>((resolve) => { setImmediate(resolve) }) }

/** Starts a poll window on `poll`, as a steady connection's answered call does. */
function answered (poll: IdlePoll): void {
  poll.begin()
  poll.end(true)
}

Poll('a window of turns follows a reply of a steady connection, none of a one-shot one', async () => {
  const poll = new IdlePoll(1)
  poll.begin(); poll.end(false)
  await turn()
  assert.is(poll.stats.polls, 0)
  answered(poll)
  assert.is(poll.stats.polls, 1)
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.ok(poll.stats.turns >= 1)
})

Poll('a late turn spent answering calls is not a preemption; one spent asleep is', async () => {
  const poll = new IdlePoll(500)
  answered(poll)
  // Work between two turns (this thread busy for 5 ms: a large reply being written).
  const until = performance.now() + 5
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
