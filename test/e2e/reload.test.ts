/**
 * SIGHUP reloads the configuration file in a running gateway: providers, models and routing take
 * effect without a restart, on the same listener; an invalid file changes nothing; a change
 * elsewhere is named as waiting for a restart; a stream under way when the reload happens ends
 * normally on the configuration it started with.
 */
import { writeFile } from 'node:fs/promises';
import OpenAI, { NotFoundError } from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeOpenAI, refusedURL } from '../fakes/openai-upstream.js';
import { OPENAI_ERRORS } from '../fakes/openai-wire.js';
import { sdk } from '../helpers/client.js';
import { parseMetrics, total } from '../helpers/metrics.js';
import { runCli, startGateway, stopAllGateways, type Gateway, type LogLine } from '../helpers/gateway.js';

afterAll(async () => {
  await stopAllGateways();
});

const ONE_GROUP = `
server: { shutdown_grace_ms: 2000 }
providers:
  fake: { type: mock }
models:
  first: { targets: [ { provider: fake, model: mock } ] }
`;

const TWO_GROUPS = `
server: { shutdown_grace_ms: 2000 }
providers:
  fake: { type: mock }
  slow: { type: mock, tokens_per_second: 20 }
models:
  second: { targets: [ { provider: fake, model: mock } ] }
  slow: { targets: [ { provider: slow, model: mock } ] }
`;

/** Waits for the gateway's log line `msg` after `from` lines (lines reach stdout up to 200 ms late). */
async function logLine(gateway: Gateway, msg: string, from: number, timeoutMs = 5_000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = gateway.logs().slice(from).find((l) => l.msg === msg);
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no log line "${msg}" within ${timeoutMs} ms:\n${gateway.stdout()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function reload(gateway: Gateway, yaml: string, expect: string): Promise<LogLine> {
  await writeFile(gateway.configPath, yaml);
  const from = gateway.logs().length;
  gateway.process.kill('SIGHUP');
  return logLine(gateway, expect, from);
}

async function modelIds(client: OpenAI): Promise<string[]> {
  return (await client.models.list()).data.map((m) => m.id);
}

const hello = { messages: [{ role: 'user' as const, content: 'hello' }] };

describe('SIGHUP', () => {
  it('applies new providers and model groups on the same listener', async () => {
    const gateway = await startGateway(ONE_GROUP);
    const client = sdk(gateway);
    expect(await modelIds(client)).toEqual(['first']);

    const line = await reload(gateway, TWO_GROUPS, 'configuration reloaded');
    expect(line).toMatchObject({ models: ['second', 'slow'], providers: ['fake', 'slow'] });
    expect(await modelIds(client)).toEqual(['second', 'slow']);
    const answer = await client.chat.completions.create({ model: 'second', ...hello });
    expect(answer.choices[0]!.message.content).toBe('This is a mock reply. You said: hello');
    await expect(client.chat.completions.create({ model: 'first', ...hello })).rejects.toBeInstanceOf(NotFoundError);
    // Direct addressing follows the providers too.
    expect((await client.chat.completions.create({ model: 'slow/mock', ...hello, max_tokens: 2 })).model).toBe('mock');
    const providers = (await (await fetch(`${gateway.url}/v1/providers`)).json()) as { data: { id: string }[] };
    expect(providers.data.map((p) => p.id)).toEqual(['fake', 'slow']);
    expect(gateway.process.exitCode).toBeNull();
    const metrics = parseMetrics(await (await fetch(`${gateway.url}/metrics`)).text());
    expect(total(metrics, 'switchyard_config_reloads_total', { result: 'applied' })).toBe(1);
    expect(total(metrics, 'switchyard_config_reloads_total', { result: 'failed' })).toBe(0);
    expect(total(metrics, 'switchyard_config_last_reload_successful')).toBe(1);
  });

  it('keeps the configuration in force when the new file is invalid, and says why', async () => {
    const gateway = await startGateway(ONE_GROUP);
    const line = await reload(gateway, ONE_GROUP.replace('provider: fake', 'provider: nope'), 'configuration reload failed: the configuration in force is kept');
    expect((line.problems as string[]).join('\n')).toContain('models.first.targets[0].provider: unknown provider "nope"');
    const client = sdk(gateway);
    expect(await modelIds(client)).toEqual(['first']);
    expect((await client.chat.completions.create({ model: 'first', ...hello })).choices[0]!.message.content).toContain('hello');
    const metrics = parseMetrics(await (await fetch(`${gateway.url}/metrics`)).text());
    expect(total(metrics, 'switchyard_config_reloads_total', { result: 'failed' })).toBe(1);
    expect(total(metrics, 'switchyard_config_last_reload_successful')).toBe(0);
  });

  it('keeps the configuration in force when the file reads as empty (caught while being rewritten)', async () => {
    const gateway = await startGateway(ONE_GROUP);
    const line = await reload(gateway, '', 'configuration reload failed: the configuration in force is kept');
    expect((line.problems as string[]).join('\n')).toContain('the file configures no providers and no models');
    const client = sdk(gateway);
    expect(await modelIds(client)).toEqual(['first']);
    expect((await client.chat.completions.create({ model: 'first', ...hello })).choices[0]!.message.content).toContain('hello');
  });

  it('keeps the configuration in force when a provider cannot be built from the new file', async () => {
    const gateway = await startGateway(ONE_GROUP);
    const withVertex = ONE_GROUP.replace('  fake: { type: mock }', '  fake: { type: mock }\n  v: { type: vertex, location: us-central1 }');
    const line = await reload(gateway, withVertex, 'configuration reload failed: the configuration in force is kept');
    expect((line.problems as string[]).join('\n')).toContain('providers.v.project: a vertex provider needs a Google Cloud project');
    expect(await modelIds(sdk(gateway))).toEqual(['first']);
    const providers = (await (await fetch(`${gateway.url}/v1/providers`)).json()) as { data: { id: string }[] };
    expect(providers.data.map((p) => p.id)).toEqual(['fake']);
  });

  it('applies the models and names the sections that wait for a restart', async () => {
    const gateway = await startGateway(ONE_GROUP);
    const from = gateway.logs().length;
    await reload(gateway, `${TWO_GROUPS}\nmetrics: { enabled: false }\nrouting: { allow_client_overrides: true }\n`, 'configuration reloaded');
    const warning = await logLine(gateway, 'configuration reloaded without metrics, routing.allow_client_overrides: those changes take effect at the next restart', from);
    expect(warning.unchanged).toEqual(['metrics', 'routing.allow_client_overrides']);
    expect(await modelIds(sdk(gateway))).toEqual(['second', 'slow']);
    // Metrics stay on until the restart.
    expect((await fetch(`${gateway.url}/metrics`)).status).toBe(200);
  });

  it('lets a stream under way finish on the configuration it started with', async () => {
    const gateway = await startGateway(TWO_GROUPS);
    const client = sdk(gateway);
    // 20 tokens/s: the answer streams for about a second.
    const stream = await client.chat.completions.create({ model: 'slow', ...hello, stream: true });
    let text = '';
    let reloaded: Promise<LogLine> | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      reloaded ??= reload(gateway, ONE_GROUP, 'configuration reloaded');
    }
    await reloaded;
    expect(text).toBe('This is a mock reply. You said: hello');
    expect(await modelIds(client)).toEqual(['first']);
  });

  it('on the embedded default, says there is no file to read and keeps serving', async () => {
    const gateway = await startGateway(null);
    const from = gateway.logs().length;
    gateway.process.kill('SIGHUP');
    await logLine(gateway, 'configuration reload asked for, but the gateway runs on the embedded default: there is no file to read', from);
    expect(await modelIds(sdk(gateway))).toEqual(['mock']);
    expect(gateway.process.exitCode).toBeNull();
  });

  it("drops the circuit-breaker series of targets no longer configured (an open breaker would alert for ever)", async () => {
    const dead = await refusedURL();
    const withDead = `${ONE_GROUP}  gone: { targets: [ { provider: dead, model: m } ] }
routing: { retry: { max_retries: 0 }, circuit_breaker: { failure_rate: 0.5, minimum_requests: 2, window_ms: 60000, cooldown_ms: 120000 } }
`.replace('  fake: { type: mock }', `  fake: { type: mock }\n  dead: { type: openai-compatible, base_url: "${dead}" }`);
    const gateway = await startGateway(withDead);
    const client = sdk(gateway);
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'gone', ...hello }).catch(() => undefined);
    const breakerSeries = async (): Promise<string[]> => (await (await fetch(`${gateway.url}/metrics`)).text()).split('\n').filter((l) => l.startsWith('switchyard_circuit_breaker_state{'));
    expect(await breakerSeries()).toContain('switchyard_circuit_breaker_state{provider="dead",model="m"} 2');
    await reload(gateway, ONE_GROUP, 'configuration reloaded');
    expect((await breakerSeries()).filter((l) => l.includes('provider="dead"'))).toEqual([]);
    expect(await breakerSeries()).toContain('switchyard_circuit_breaker_state{provider="fake",model="mock"} 0');
  });

  it('keeps them dropped when a call still running on a removed target moves its breaker', async () => {
    const upstream = await FakeOpenAI.start({ apiKeys: ['sk-upstream'] });
    try {
      const withFlaky = `${ONE_GROUP}  flaky-group: { targets: [ { provider: flaky, model: gpt-4o-mini } ] }
routing: { retry: { max_retries: 0 }, circuit_breaker: { failure_rate: 0.5, minimum_requests: 2, window_ms: 60000, cooldown_ms: 200, half_open_probes: 1 } }
`.replace('  fake: { type: mock }', `  fake: { type: mock }\n  flaky: { type: openai, base_url: "${upstream.baseURL}", api_key: sk-upstream }`);
      const gateway = await startGateway(withFlaky);
      const client = sdk(gateway);
      upstream.inject({ kind: 'http-error', error: OPENAI_ERRORS.serverError() }, { times: 2 });
      for (let i = 0; i < 2; i++) await client.chat.completions.create({ model: 'flaky-group', ...hello }).catch(() => undefined);
      const flakySeries = async (): Promise<string[]> =>
        (await (await fetch(`${gateway.url}/metrics`)).text()).split('\n').filter((l) => l.startsWith('switchyard_circuit_breaker_state{provider="flaky"'));
      expect(await flakySeries()).toEqual(['switchyard_circuit_breaker_state{provider="flaky",model="gpt-4o-mini"} 2']);
      // After the cooldown one call is let through (half-open); it answers after the reload and closes the retired breaker (one probe suffices).
      await new Promise((resolve) => setTimeout(resolve, 300));
      upstream.inject({ kind: 'delay-headers', ms: 1000 });
      const probe = client.chat.completions.create({ model: 'flaky-group', ...hello });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await flakySeries()).toEqual(['switchyard_circuit_breaker_state{provider="flaky",model="gpt-4o-mini"} 1']);
      await reload(gateway, ONE_GROUP, 'configuration reloaded');
      expect(await flakySeries()).toEqual([]);
      expect((await probe).choices[0]!.message.content).toContain('hello');
      expect(await flakySeries()).toEqual([]);
    } finally {
      await upstream.close();
    }
  });
});

describe('POST /admin/config/reload', () => {
  const MASTER = 'sk-sy-reload-master-0123456789';
  const withKey = (yaml: string): string => `auth: { master_key: ${MASTER} }\n${yaml}`;
  const post = (gateway: Gateway, key = MASTER): Promise<Response> =>
    fetch(`${gateway.url}/admin/config/reload`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });

  it('reloads the file and says what is served now', async () => {
    const gateway = await startGateway(withKey(ONE_GROUP));
    await writeFile(gateway.configPath, withKey(`${TWO_GROUPS}\nmetrics: { enabled: false }\n`));
    const response = await post(gateway);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ reloaded: true, models: ['second', 'slow'], providers: ['fake', 'slow'], restart_required: ['metrics'] });
    expect(await modelIds(sdk(gateway, MASTER))).toEqual(['second', 'slow']);
    // A JSON content type with no body (some HTTP clients send one) is no body either.
    const empty = await fetch(`${gateway.url}/admin/config/reload`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' } });
    expect(empty.status).toBe(200);
  });

  it('answers 422 config_invalid with the problems, and keeps the configuration in force', async () => {
    const gateway = await startGateway(withKey(ONE_GROUP));
    await writeFile(gateway.configPath, withKey(ONE_GROUP.replace('provider: fake', 'provider: nope')));
    const response = await post(gateway);
    expect(response.status).toBe(422);
    const body = (await response.json()) as { error: { code: string; type: string; message: string } };
    expect(body.error.code).toBe('config_invalid');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('models.first.targets[0].provider: unknown provider "nope"');
    expect(await modelIds(sdk(gateway, MASTER))).toEqual(['first']);
  });

  it('is what `switchyard config reload` asks for', async () => {
    const gateway = await startGateway(withKey(ONE_GROUP));
    const env = { SWITCHYARD_URL: gateway.url, SWITCHYARD_MASTER_KEY: MASTER };
    await writeFile(gateway.configPath, withKey(`${TWO_GROUPS}\nmetrics: { enabled: false }\n`));
    const applied = await runCli(['config', 'reload'], 15_000, env);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toBe('Reloaded. Model groups: second, slow. Providers: fake, slow.\nChanged but not applied until the next restart: metrics.\n');

    await writeFile(gateway.configPath, withKey(ONE_GROUP.replace('provider: fake', 'provider: nope')));
    const refused = await runCli(['config', 'reload'], 15_000, env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('switchyard: The configuration file was not applied; the configuration in force is kept.');
    expect(refused.stderr).toContain('unknown provider "nope"');
  });

  it('takes the master key only', async () => {
    const gateway = await startGateway(withKey(ONE_GROUP));
    const response = await post(gateway, 'sk-not-the-master-key');
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
  });

  it('answers 409 on the embedded default: there is no file', async () => {
    const gateway = await startGateway(null, { env: { SWITCHYARD_MASTER_KEY: MASTER } });
    const response = await post(gateway);
    expect(response.status).toBe(409);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('there is no configuration file to reload');
  });
});
