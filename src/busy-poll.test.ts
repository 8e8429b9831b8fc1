import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { BusyPoll, loopBusyShare, loopSample } from './busy-poll.js';

/** The event loop's utilization while `ms` passed: near 1 while something keeps it turning, near 0 asleep. */
async function utilizationDuring(ms: number): Promise<number> {
  const before = performance.eventLoopUtilization();
  await sleep(ms);
  return performance.eventLoopUtilization(before).utilization;
}

/** Keeps the thread busy, as request work would, for `ms`. */
function work(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('BusyPoll', () => {
  let poll: BusyPoll | undefined;
  afterEach(() => poll?.stop());

  it('keeps the loop turning for the window after a touch, then lets it sleep', async () => {
    poll = new BusyPoll(30_000);
    expect(poll.spinning).toBe(false);
    poll.touch();
    expect(poll.spinning).toBe(true);
    expect(await utilizationDuring(10)).toBeGreaterThan(0.5);
    await sleep(40);
    expect(poll.spinning).toBe(false);
    expect(await utilizationDuring(10)).toBeLessThan(0.2);
  });

  it('lets the loop sleep at the end of the window even when work ran during it (only touches extend it)', async () => {
    poll = new BusyPoll(20_000);
    poll.touch();
    await sleep(10);
    work(1);
    await sleep(40);
    expect(poll.spinning).toBe(false);
  });

  it('a touch while it spins moves the end of the window', async () => {
    poll = new BusyPoll(200_000);
    poll.touch();
    await sleep(150);
    poll.touch();
    await sleep(100); // past the first window's end, inside the second's
    expect(poll.spinning).toBe(true);
    await sleep(150);
    expect(poll.spinning).toBe(false);
  });

  it('keeps the loop awake from each request to a server until the window after its reply', async () => {
    poll = new BusyPoll(60_000);
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const server = createServer((_request, response) => {
      arrived();
      // The reply comes long after the window that the request opened.
      setTimeout(() => response.end('ok'), 250);
    });
    poll.watch(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const answer = fetch(`http://127.0.0.1:${port}/`).then((response) => response.text());
      await arrival;
      expect(poll.spinning).toBe(true);
      await sleep(150);
      expect(poll.spinning).toBe(false);
      expect(await answer).toBe('ok');
      expect(poll.spinning).toBe(true);
      await sleep(150);
      expect(poll.spinning).toBe(false);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('stops for good on stop(): a touch after it does nothing', async () => {
    poll = new BusyPoll(50_000);
    poll.touch();
    poll.stop();
    await sleep(5);
    expect(poll.spinning).toBe(false);
    poll.touch();
    expect(poll.spinning).toBe(false);
  });
});

describe('loopBusyShare', () => {
  it('does not count busy polling as work: a loop that only spins does not read as busy', async () => {
    const poll = new BusyPoll(200_000);
    poll.touch();
    await sleep(20); // the spin's turns compiled
    const before = loopSample();
    const raw = performance.eventLoopUtilization();
    const cpu = process.cpuUsage();
    const start = performance.now();
    await sleep(50);
    const utilization = performance.eventLoopUtilization(raw).utilization;
    const share = loopBusyShare(before);
    // The share of the time this process ran (its GC threads too): under other processes' load
    // the spinning thread loses the core for a while, and that time counts as busy (turns slowed
    // by the contention count their excess too, hence the margin).
    const used = process.cpuUsage(cpu);
    const ran = Math.min(1, (used.user + used.system) / 1000 / (performance.now() - start));
    poll.stop();
    expect(utilization).toBeGreaterThan(0.9);
    // What else ran here (the test runner's messages) still counts, so not 0, but far under the raw figure.
    expect(share).toBeLessThan(utilization - 0.1);
    expect(share).toBeLessThan(1 - ran + 0.4);
  });

  it('counts real work while spinning, in long callbacks and in short ones a turn apart', async () => {
    const poll = new BusyPoll(100_000);
    poll.touch();
    await sleep(20);
    const long = loopSample();
    for (let i = 0; i < 10; i++) {
      work(3);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(loopBusyShare(long)).toBeGreaterThan(0.8);
    // 20 µs of work every turn, a gap between turns hardly longer than a turn: most of the time is work.
    const short = loopSample();
    for (let i = 0; i < 1000; i++) {
      work(0.02);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(loopBusyShare(short)).toBeGreaterThan(0.6);
    poll.stop();
  });

  it('is the loop utilization when nothing spins', async () => {
    const before = loopSample();
    await sleep(20);
    expect(loopBusyShare(before)).toBeLessThan(0.3);
    const busy = loopSample();
    work(20);
    await new Promise((resolve) => setImmediate(resolve));
    expect(loopBusyShare(busy)).toBeGreaterThan(0.8);
  });
});
