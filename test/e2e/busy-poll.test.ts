/** `server.busy_poll_us`: the gateway serves as usual, spins for the window after a request, and then sleeps. */
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  gateway = await startGateway(`
server: { busy_poll_us: 100000 }
providers:
  demo: { type: mock }
models:
  mock: { targets: [ { provider: demo, model: mock-1 } ] }
`);
  client = sdk(gateway);
});

afterAll(stopAllGateways);

/** The process's CPU time so far, in clock ticks (user + system; 100 a second on Linux). */
function cpuTicks(pid: number): number {
  // Fields after the command name (which is in parentheses and may hold spaces): utime is the 12th, stime the 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

describe('busy polling (server.busy_poll_us)', () => {
  it('says so in the start-up banner', () => {
    expect(gateway.stderr()).toContain('busy polling     100000 µs after each request and reply');
  });

  it('answers chat completions, plain and streamed, as without it', async () => {
    const answer = await client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'Hello' }] });
    expect(answer.choices[0]!.message.content).toBe('This is a mock reply. You said: Hello');
    const stream = await client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'Hello' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(answer.choices[0]!.message.content);
  });

  it.skipIf(!existsSync('/proc/self/stat'))('spins for the window after a request (100 ms of CPU), then uses none while idle', async () => {
    const pid = gateway.process.pid!;
    await sleep(300); // the last test's windows are over
    const before = cpuTicks(pid);
    await client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'Hello' }] });
    await sleep(400);
    const afterRequest = cpuTicks(pid);
    await sleep(500);
    const idle = cpuTicks(pid);
    // ~10 ticks spinning after the request and its reply (windows that overlap), fewer when other
    // processes take the core meanwhile; without busy polling a request costs 1 tick or none.
    expect(afterRequest - before).toBeGreaterThanOrEqual(4);
    expect(afterRequest - before).toBeLessThanOrEqual(40);
    // Idle: the spin is over (a tick or two of timers and scheduling noise at most).
    expect(idle - afterRequest).toBeLessThanOrEqual(3);
  });

  it('exits 0 on SIGTERM', async () => {
    await client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'Hello' }] });
    expect(await gateway.stop('SIGTERM')).toBe(0);
  });
});
