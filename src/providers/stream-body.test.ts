import { describe, expect, it } from 'vitest';
import type { Dispatcher } from 'undici';
import { StreamBody } from './stream-body.js';

function fakeController(): Dispatcher.DispatchController & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    aborted: false,
    paused: false,
    reason: null,
    abort: (reason: Error) => calls.push(`abort: ${reason.message}`),
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
  } as unknown as Dispatcher.DispatchController & { calls: string[] };
}

const chunk = (i: number): Buffer => Buffer.from(`c${i}`);

describe('StreamBody', () => {
  it('hands chunks to a waiting reader and in order from its queue, then ends', async () => {
    const body = new StreamBody(fakeController());
    const first = body.next();
    body.push(chunk(1));
    body.push(chunk(2));
    body.end();
    expect((await first).value?.toString()).toBe('c1');
    expect((await body.next()).value?.toString()).toBe('c2');
    expect(await body.next()).toEqual({ value: undefined, done: true });
  });

  it('pauses the connection while 16 chunks wait and resumes when the reader caught up', async () => {
    const controller = fakeController();
    const body = new StreamBody(controller);
    for (let i = 0; i < 20; i++) body.push(chunk(i));
    expect(controller.calls).toEqual(['pause']);
    for (let i = 0; i < 15; i++) await body.next();
    expect(controller.calls).toEqual(['pause']);
    await body.next(); // 4 left
    expect(controller.calls).toEqual(['pause', 'resume']);
  });

  it('delivers queued chunks before a failure, then rejects with it', async () => {
    const body = new StreamBody(fakeController());
    body.push(chunk(1));
    const failure = new Error('reset');
    body.fail(failure);
    expect((await body.next()).value?.toString()).toBe('c1');
    await expect(body.next()).rejects.toBe(failure);
  });

  it('an early return drains the rest, and aborts only if the body has not ended a second later', async () => {
    const ending = fakeController();
    const body = new StreamBody(ending);
    body.push(chunk(1));
    await body.return();
    body.push(chunk(2)); // discarded
    body.end();
    expect(await body.next()).toEqual({ value: undefined, done: true });

    const hanging = fakeController();
    const stuck = new StreamBody(hanging);
    await stuck.return();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(hanging.calls).toEqual(['abort: upstream body did not end after the stream was complete']);
    expect(ending.calls).toEqual([]);
  });
});
