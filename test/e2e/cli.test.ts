/**
 * The admin CLI end to end: the built `switchyard` (node <dist>/main.js, SWITCHYARD_TEST_DIST
 * picks the build) against a real running gateway, through SWITCHYARD_URL and
 * SWITCHYARD_MASTER_KEY: create a key, list it, use it, see its spend, rotate it, revoke it; and
 * the failures a user meets (no master key, no gateway, an unknown key id).
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCost } from '../../src/cli/spend-command.js';
import { runCli, startGateway, stopAllGateways, type CliResult, type Gateway } from '../helpers/gateway.js';

const MASTER_KEY = 'sk-master-cli-e2e';
/** USD per 1M tokens: a short request costs a few cents, so its cost shows in four decimals. */
const PRICE = 1000;
const SECRET = /sk-sy-[A-Za-z0-9_-]{43}/;

let gateway: Gateway;
let env: Record<string, string>;

beforeAll(async () => {
  gateway = await startGateway(`
auth: { master_key: ${MASTER_KEY} }
governance:
  spend: { flush_interval_ms: 50 }
providers:
  demo: { type: mock }
models:
  mock:
    targets: [ { provider: demo, model: mock, price: { input: ${PRICE}, output: ${PRICE} } } ]
`);
  env = { SWITCHYARD_URL: gateway.url, SWITCHYARD_MASTER_KEY: MASTER_KEY };
});

afterAll(stopAllGateways);

const cli = (args: string[], extraEnv: Record<string, string> = env): Promise<CliResult> => runCli(args, 15_000, extraEnv);

async function chat(secret: string): Promise<Response> {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'hello from the cli test' }], max_tokens: 20 }),
  });
  await response.arrayBuffer();
  return response;
}

/** Spend rows are written in the background: wait (through the API, quicker than a CLI run) until the key's request is in. */
async function spendRecorded(keyId: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await fetch(`${gateway.url}/admin/spend?group_by=key&key_id=${keyId}`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    const report = (await response.json()) as { data: { group: string | null }[] };
    if (report.data.some((row) => row.group === keyId)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the spend of ${keyId} never showed up`);
}

/** The table line that starts with `first` (a key id, TOTAL). */
const lineOf = (stdout: string, first: string): string | undefined => stdout.split('\n').find((line) => line.startsWith(`${first} `));

describe('switchyard keys and spend against a running gateway', () => {
  // About ten CLI runs, each a fresh Node process: more than the default 20 s on a loaded machine.
  it('creates, lists, reports, rotates and revokes a key', { timeout: 60_000 }, async () => {
    const created = await cli(['keys', 'create', '--name', 'cli-e2e', '--models', 'mock', '--budget', '5', '--period', 'monthly', '--rpm', '100', '--metadata', 'env=e2e']);
    expect(created.code, created.stderr).toBe(0);
    const secret = SECRET.exec(created.stdout)?.[0];
    const id = /Created key (key_[A-Za-z0-9_-]+) "cli-e2e"/.exec(created.stdout)?.[1];
    expect(secret, created.stdout).toBeDefined();
    expect(id, created.stdout).toBeDefined();
    expect(created.stdout).toContain('only time the secret is shown');

    const listed = await cli(['keys', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    const row = lineOf(listed.stdout, id!);
    expect(row).toContain('cli-e2e');
    expect(row).toContain(`${secret!.slice(0, 10)}…${secret!.slice(-4)}`);
    expect(row).toContain('$5 monthly, 100 rpm, models mock');
    expect(listed.stdout).not.toContain(secret!);

    // The key works, and its request shows up in the spend report with the cost the gateway charged.
    const answer = await chat(secret!);
    expect(answer.status).toBe(200);
    const cost = Number(answer.headers.get('x-switchyard-cost-usd'));
    expect(cost).toBeGreaterThan(0);
    await spendRecorded(id!);
    const spend = await cli(['spend', '--group-by', 'key', '--key', id!]);
    expect(spend.code, spend.stderr).toBe(0);
    const spendRow = lineOf(spend.stdout, id!);
    expect(spendRow, spend.stdout).toBeDefined();
    expect(spendRow!.split(/\s{2,}/)).toEqual([id, 'cli-e2e', '1', '0', '0', expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/), formatCost(cost)]);
    expect(lineOf(spend.stdout, 'TOTAL')).toMatch(new RegExp(`^TOTAL\\s+1\\s.*${formatCost(cost).replace('.', '\\.')}$`));
    const json = await cli(['spend', '--group-by', 'key', '--key', id!, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ object: 'spend_report', group_by: 'key', data: [{ group: id, requests: 1 }] });
    expect((JSON.parse(json.stdout) as { total_cost_usd: number }).total_cost_usd).toBeCloseTo(cost, 9);

    // Rotation without a grace period: only the new secret works.
    const rotated = await cli(['keys', 'rotate', id!, '--grace', '0']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const fresh = SECRET.exec(rotated.stdout)?.[0];
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(secret);
    expect(rotated.stdout).toContain('The old secret no longer works.');
    expect((await chat(secret!)).status).toBe(401);
    expect((await chat(fresh!)).status).toBe(200);

    const revoked = await cli(['keys', 'revoke', id!]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toBe(`Revoked key ${id}: its secret no longer works.\n`);
    expect((await chat(fresh!)).status).toBe(401);
    expect(lineOf((await cli(['keys', 'list'])).stdout, id!)).toBeUndefined();
    expect(lineOf((await cli(['keys', 'list', '--include-revoked'])).stdout, id!)).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
  });

  it("prints the API's JSON with --json, the secret included once", async () => {
    const created = await cli(['keys', 'create', '--name', 'json-e2e', '--tpm', '5000', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string; limits: unknown };
    expect(key.key).toMatch(SECRET);
    expect(key.limits).toEqual({ tpm: 5000 });
    const listed = await cli(['keys', 'list', '--json']);
    const keys = (JSON.parse(listed.stdout) as { data: { id: string; key?: string }[] }).data;
    expect(keys.find((k) => k.id === key.id)).not.toHaveProperty('key');
  });

  it('takes --url and --master-key over the environment', async () => {
    const listed = await cli(['keys', 'list', '--url', gateway.url, '--master-key', MASTER_KEY], { SWITCHYARD_URL: 'http://127.0.0.1:9', SWITCHYARD_MASTER_KEY: 'wrong' });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+NAME/);
  });
});

describe('switchyard keys and spend failures', () => {
  it('needs the master key, and says where to set it', async () => {
    const result = await cli(['keys', 'list'], { SWITCHYARD_URL: gateway.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^switchyard: the admin commands need the master key: set SWITCHYARD_MASTER_KEY or pass --master-key\n/);
    expect(result.stdout).toBe('');
  });

  it("shows the gateway's refusal of a wrong master key", async () => {
    const result = await cli(['spend'], { SWITCHYARD_URL: gateway.url, SWITCHYARD_MASTER_KEY: 'sk-not-the-master' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('switchyard: The admin API takes the master key only. Send it as "Authorization: Bearer <master key>".\n');
  });

  it('says the gateway is not running when nothing listens at the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const url = `http://127.0.0.1:${port}`;
    const result = await cli(['keys', 'list'], { SWITCHYARD_URL: url, SWITCHYARD_MASTER_KEY: MASTER_KEY });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`switchyard: cannot reach the gateway at ${url}: is it running? (set --url or SWITCHYARD_URL)\n`);
  });

  it("prints the API's message for an unknown key id", async () => {
    for (const args of [
      ['keys', 'revoke', 'key_nope'],
      ['keys', 'rotate', 'key_nope'],
    ]) {
      const result = await cli(args);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('switchyard: No key with id "key_nope".\n');
    }
  });

  it("prints the API's message for input it refuses", async () => {
    const result = await cli(['keys', 'create', '--name', 'x', '--team', 'team_nope']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('switchyard: team_id: no team with id "team_nope".\n');
  });

  it('shows the usage for a mistake on the command line', async () => {
    const result = await cli(['keys', 'create', '--nmae', 'x']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^switchyard: Unknown option '--nmae'[^\n]*\n\nUsage:\n {2}switchyard keys create/);
  });
});

describe('switchyard --version', () => {
  it("prints package.json's version, found from wherever the build put the code", async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const result = await cli(['--version'], {});
    expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});
