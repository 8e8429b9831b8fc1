/**
 * Process lifecycle: how the `switchyard` command starts node, graceful shutdown on SIGTERM (an
 * in-flight stream completes, exit code 0; past the grace period remaining connections are
 * closed), and `switchyard config check`.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fakes/openai-upstream.js';
import { raw, sdk } from '../helpers/client.js';
import { admin } from '../helpers/governance.js';
import { runCli, startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

let fake: FakeOpenAI;
let dir: string;

beforeAll(async () => {
  fake = await FakeOpenAI.start();
  dir = await mkdtemp(join(tmpdir(), 'switchyard-e2e-cli-'));
});

afterAll(async () => {
  await stopAllGateways();
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

const config = (graceMs: number): string => `
server: { shutdown_grace_ms: ${graceMs} }
providers:
  oai: { type: openai, base_url: ${fake.baseURL}, api_key: sk-upstream-oai }
models:
  gpt: { targets: [ { provider: oai, model: gpt-4o-mini } ] }
`;

const PROMPT = 'please answer slowly so that shutdown has to wait';
const ANSWER = `Hello from gpt-4o-mini. You said: ${PROMPT}`;

describe('the switchyard command', () => {
  /** The command line and environment the gateway's node process was started with (Linux's /proc). */
  async function launched(pid: number): Promise<{ args: string[]; env: Map<string, string> }> {
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    const env = new Map((await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(Boolean).map((entry) => entry.split(/=(.*)/s, 2) as [string, string]));
    return { args, env };
  }

  it.skipIf(!existsSync('/proc/self/cmdline') || process.env.SWITCHYARD_TEST_DIST !== undefined)(
    'starts node with an 8 MB young-generation semi-space and one malloc arena, each a default the environment replaces',
    async () => {
      const gateway = await startGateway(null);
      const { args, env } = await launched(gateway.process.pid!);
      // exec'd: the child is node itself, so signals reach the gateway
      expect(args[0]).toMatch(/(^|\/)node$/);
      expect(args.slice(1)).toEqual(['--max-semi-space-size=8', expect.stringMatching(/\/dist\/main\.js$/), 'start']);
      expect(env.get('MALLOC_ARENA_MAX')).toBe('1');
      expect(await gateway.stop()).toBe(0);

      const tuned = await startGateway(null, { env: { MALLOC_ARENA_MAX: '4', NODE_OPTIONS: '--max-semi-space-size=16' } });
      const own = await launched(tuned.process.pid!);
      expect(own.args.slice(1)).toEqual([expect.stringMatching(/\/dist\/main\.js$/), 'start']);
      expect(own.env.get('MALLOC_ARENA_MAX')).toBe('4');
      expect(await tuned.stop()).toBe(0);
    },
  );
});

describe('graceful shutdown', () => {
  it('lets an in-flight stream finish after SIGTERM, refuses new work, and exits 0', async () => {
    const gateway = await startGateway(config(5000));
    fake.reset();
    fake.inject({ kind: 'slow-stream', chunkDelayMs: 40 });
    const stream = await sdk(gateway).chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: PROMPT }], stream: true });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    let signalled = false;
    let duringShutdown: number | string | undefined;
    for await (const chunk of stream) {
      chunks.push(chunk);
      if (!signalled) {
        signalled = true;
        gateway.process.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 100));
        // New work is turned away while the stream drains: the listener is closed (or 503).
        duringShutdown = await raw(gateway, '/health/ready').then(
          (res) => res.status,
          (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message,
        );
      }
    }
    const streamEnded = performance.now();
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(ANSWER);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect([503, 'ECONNREFUSED']).toContain(duringShutdown);
    expect(await gateway.exited).toBe(0);
    // Once nothing is in flight the process exits, without waiting out the 5 s grace period
    // (the client's keep-alive connection must not hold it).
    expect(performance.now() - streamEnded).toBeLessThan(1500);
    const messages = gateway.logs().map((l) => l.msg);
    expect(messages).toContain('shutting down: no new requests, waiting for in-flight ones');
    expect(messages).toContain('switchyard stopped');
    expect(fake.aborts).toHaveLength(0);
  });

  it('closes what is still running when shutdown_grace_ms is over, and still exits 0', async () => {
    const gateway = await startGateway(config(300));
    fake.reset();
    fake.inject({ kind: 'slow-stream', chunkDelayMs: 150 });
    const stream = await sdk(gateway).chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: PROMPT }], stream: true });
    const started = performance.now();
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    try {
      for await (const chunk of stream) {
        chunks.push(chunk);
        if (chunks.length === 1) gateway.process.kill('SIGTERM');
      }
    } catch {
      // the connection was closed under the stream: expected
    }
    expect(await gateway.exited).toBe(0);
    // The whole stream would take 17 chunks × 150 ms; the 300 ms grace period cut it short.
    expect(performance.now() - started).toBeLessThan(2000);
    expect(chunks.some((c) => c.choices[0]?.finish_reason)).toBe(false);
    expect(gateway.logs().map((l) => l.msg)).toContain('shutdown grace period over: closing remaining connections');
    await fake.waitForAbort(2000);
  });

  it("answers a request that arrives on an open connection during shutdown with 503 service_unavailable in the API's shape, and closes it", async () => {
    for (const path of ['/v1/chat/completions', '/v1/messages']) {
      const gateway = await startGateway(config(5000));
      fake.reset();
      fake.inject({ kind: 'delay-headers', ms: 800 });
      const { port, hostname } = new URL(gateway.url);
      const socket = connect(Number(port), hostname);
      let answer = '';
      socket.setEncoding('utf8').on('data', (text: string) => (answer += text));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      const slow = JSON.stringify({ model: 'gpt', max_tokens: 10, messages: [{ role: 'user', content: PROMPT }] });
      const post = (body: string) => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nanthropic-version: 2023-06-01\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      socket.write(post(slow));
      await new Promise((resolve) => setTimeout(resolve, 200));
      gateway.process.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 200));
      // The first is still in flight (the connection is busy, not idle): the second comes in behind it.
      socket.write(post(slow));
      await closed;
      const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
      expect(statuses).toEqual([200, 503]);
      const last = answer.slice(answer.lastIndexOf('HTTP/1.1 503'));
      expect(last.toLowerCase()).toContain('connection: close');
      const body = JSON.parse(last.slice(last.indexOf('\r\n\r\n') + 4)) as Record<string, { type?: string; code?: string }>;
      if (path === '/v1/messages') expect(body).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
      else expect(body).toMatchObject({ error: { code: 'service_unavailable' } });
      expect(await gateway.exited).toBe(0);
    }
  });

  it('ends at once on a second signal, of either kind, during the grace period (as that signal ends any process)', async () => {
    for (const [first, second] of [['SIGTERM', 'SIGINT'], ['SIGINT', 'SIGTERM']] as const) {
      const gateway = await startGateway(config(5000));
      fake.reset();
      fake.inject({ kind: 'slow-stream', chunkDelayMs: 150 });
      const stream = await sdk(gateway).chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: PROMPT }], stream: true });
      const reading = (async () => {
        try {
          for await (const _ of stream);
        } catch {
          // cut off by the exit: expected
        }
      })();
      gateway.process.kill(first);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const signalled = performance.now();
      gateway.process.kill(second);
      expect(await gateway.exited).toBeNull();
      expect(gateway.process.signalCode).toBe(second);
      expect(performance.now() - signalled).toBeLessThan(1500);
      await reading;
    }
  });

  it("exits within the grace period when a billed stream's client is cut, ending its drain (not governance.drain_timeout_ms later)", async () => {
    const database = join(dir, 'drain.db');
    const masterKey = 'sk-master-drain-e2e';
    const gateway = await startGateway(`
server: { shutdown_grace_ms: 300 }
auth: { master_key: ${masterKey} }
storage: { url: "sqlite://${database}" }
governance: { drain_timeout_ms: 30000 }
providers:
  slow: { type: mock, tokens_per_second: 2.5 }
models:
  slow-mock: { targets: [ { provider: slow, model: mock } ] }
`);
    const created = await admin(gateway, masterKey, 'POST', '/keys', { name: 'drained' });
    expect(created.status, created.text).toBe(201);
    const { key } = created.json as { key: string };
    const requestId = `drain-at-shutdown-${Date.now()}`;
    // A virtual key's stream is billed: when its client leaves, the gateway reads on for the usage.
    const stream = await sdk(gateway, key).chat.completions.create({ model: 'slow-mock', messages: [{ role: 'user', content: PROMPT }], stream: true }, { headers: { 'x-request-id': requestId } });
    const signalled = performance.now();
    try {
      for await (const _ of stream) gateway.process.kill('SIGTERM');
    } catch {
      // the connection was closed under the stream: expected
    }
    expect(await gateway.exited).toBe(0);
    // The whole answer takes ~8 s at 2.5 tokens/s, the drain up to 30 s: the grace period bounds both.
    expect(performance.now() - signalled).toBeLessThan(3000);
    const sqlite = new BetterSqlite3(database, { readonly: true });
    try {
      expect(sqlite.prepare('select model, status from request_log where request_id = ?').all(requestId)).toEqual([{ model: 'slow-mock', status: 499 }]);
    } finally {
      sqlite.close();
    }
  });

  it('records a stream cut at the end of the grace period before it flushes the request log', async () => {
    const database = join(dir, 'cut.db');
    const gateway = await startGateway(`
server: { shutdown_grace_ms: 300 }
storage: { url: "sqlite://${database}" }
providers:
  slow: { type: mock, tokens_per_second: 2.5 }
models:
  slow-mock: { targets: [ { provider: slow, model: mock } ] }
`);
    const requestId = `cut-at-shutdown-${Date.now()}`;
    const stream = await sdk(gateway).chat.completions.create({ model: 'slow-mock', messages: [{ role: 'user', content: PROMPT }], stream: true }, { headers: { 'x-request-id': requestId } });
    try {
      for await (const _ of stream) gateway.process.kill('SIGTERM');
    } catch {
      // the connection was closed under the stream: expected
    }
    expect(await gateway.exited).toBe(0);
    const sqlite = new BetterSqlite3(database, { readonly: true });
    try {
      expect(sqlite.prepare('select model, status from request_log where request_id = ?').all(requestId)).toEqual([{ model: 'slow-mock', status: 499 }]);
    } finally {
      sqlite.close();
    }
  });
});

describe('a client that trickles its request', () => {
  let trickling: Gateway | undefined;

  /** Starts a request on `path` and trickles its body a byte at a time; resolves with the answer. */
  async function trickle(path: string): Promise<string> {
    trickling ??= await startGateway(config(1000).replace('server: { shutdown_grace_ms: 1000 }', 'server: { shutdown_grace_ms: 1000, request_timeout_ms: 1000 }'));
    const { port, hostname } = new URL(trickling.url);
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.setEncoding('utf8').on('data', (text: string) => (answer += text));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-request-id: trickle-${path.replaceAll('/', '-')}\r\nContent-Length: 1000\r\n\r\n{`);
    // One more byte now and then: the connection is never idle, the request not complete for minutes.
    const startedAt = Date.now();
    const dribble = setInterval(() => socket.write(' '), 200);
    try {
      await closed;
    } finally {
      clearInterval(dribble);
    }
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    return answer;
  }

  it('gets a 408 and a closed connection once server.request_timeout_ms has passed', async () => {
    const answer = await trickle('/v1/chat/completions');
    expect(answer.toLowerCase()).toContain('connection: close');
    // The request's own id, which its log line carries too.
    expect(answer.toLowerCase()).toContain('x-request-id: trickle--v1-chat-completions\r\n');
    const body = JSON.parse(answer.split('\r\n\r\n')[1]!) as { error: { code: string; type: string; message: string } };
    expect(body.error).toMatchObject({ code: 'request_timeout', type: 'invalid_request_error' });
    expect(body.error.message).toContain('within 1000 ms (server.request_timeout_ms)');
    // Recorded as what the client was sent, not as a client that left (499).
    await expect.poll(() => trickling!.logs().find((line) => line.request_id === 'trickle--v1-chat-completions')).toMatchObject({ status: 408, error: { code: 'request_timeout' } });
  });

  it("gets the 408 in Anthropic's shape on /v1/messages", async () => {
    const answer = await trickle('/v1/messages');
    const body = JSON.parse(answer.split('\r\n\r\n')[1]!) as { type: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(body.error.message).toContain('server.request_timeout_ms');
  });
});

describe('switchyard config check', () => {
  it('accepts a valid file (exit 0)', async () => {
    const path = join(dir, 'valid.yaml');
    await writeFile(path, config(1000));
    const result = await runCli(['config', 'check', path]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(`${path}: OK (1 providers, 1 model groups)`);
  });

  it('rejects an unknown provider with a message naming the path (exit 1)', async () => {
    const path = join(dir, 'typo.yaml');
    await writeFile(
      path,
      `
providers:
  openai: { type: openai, api_key: sk-x }
models:
  smart:
    targets:
      - { provider: opnai, model: gpt-4o }
`,
    );
    const result = await runCli(['config', 'check', path]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${path}: invalid configuration`);
    expect(result.stderr).toContain('models.smart.targets[0].provider: unknown provider "opnai" (did you mean "openai"?)');
  });

  it('checks what start checks beyond the schema: a vertex project, from the file or the environment', async () => {
    const path = join(dir, 'vertex.yaml');
    await writeFile(path, 'providers:\n  v: { type: vertex }\n');
    const without = await runCli(['config', 'check', path]);
    expect(without.code).toBe(1);
    expect(without.stdout).toBe('');
    expect(without.stderr).toContain(`${path}: invalid configuration`);
    expect(without.stderr).toContain('providers.v.project: a vertex provider needs a Google Cloud project');
    const invalid = await runCli(['config', 'check', path], 15_000, { GOOGLE_CLOUD_PROJECT: 'Bad_Proj' });
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('providers.v.project: GOOGLE_CLOUD_PROJECT "Bad_Proj" is not a Google Cloud project id');
    const valid = await runCli(['config', 'check', path], 15_000, { GOOGLE_CLOUD_PROJECT: 'my-project-123' });
    expect(valid.stderr).toBe('');
    expect(valid.code).toBe(0);
  });

  it('rejects bad YAML, a wrong type, a missing file, and a missing argument (exit 1)', async () => {
    const yaml = join(dir, 'broken.yaml');
    await writeFile(yaml, 'providers: [unclosed\n');
    const broken = await runCli(['config', 'check', yaml]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/YAML: /);

    const typed = join(dir, 'typed.yaml');
    await writeFile(typed, 'server: { port: eighty }\nproviders: { m: { type: mocked } }\n');
    const wrong = await runCli(['config', 'check', typed]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('server.port:');
    expect(wrong.stderr).toContain('providers.m.type: unknown provider type "mocked"');

    const missing = await runCli(['config', 'check', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.yaml: invalid configuration');
    expect(missing.stderr).toContain('file not found');

    const usage = await runCli(['config', 'check']);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain('config check needs a FILE');
  });

  it('refuses to start on a bad PORT or LOG_LEVEL in the environment, naming the variable (exit 1)', async () => {
    const path = join(dir, 'env.yaml');
    await writeFile(path, 'providers: { m: { type: mock } }\nmodels: { m: { targets: [ { provider: m, model: m } ] } }\n');
    const result = await runCli(['start', '--config', path], 15_000, { PORT: 'eighty', LOG_LEVEL: 'loud' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('PORT: expected a port number from 0 to 65535, got "eighty"');
    expect(result.stderr).toContain('LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses to start on an invalid config, with the problem in the output', async () => {
    const error = await startGateway('models:\n  smart: { targets: [ { provider: opnai, model: gpt-4o } ] }\n').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('exited with code 1 before listening');
    expect((error as Error).message).toContain('models.smart.targets[0].provider: unknown provider "opnai"');
  });
});
