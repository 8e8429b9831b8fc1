#!/usr/bin/env node
/**
 * Admission cost (`npm run bench:governance`): key lookup, every level's policies and limits, and
 * the budget reservation, then the settlement — measured in-process for the memory limiter, and
 * per request (latency, one pipelined round trip) against a real Redis with --redis=URL.
 *
 *   node bench/governance.mjs [--dist=DIR] [--requests=N] [--rounds=N] [--redis=redis://127.0.0.1:6379]
 *
 * The principal is a key in a team in an org, each level with RPM, TPM and a budget (the key also
 * max_parallel): 10 rules in one all-or-nothing reservation, as a fully governed request has.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: 'build' },
    requests: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    redis: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('Usage: node bench/governance.mjs [--dist=DIR] [--requests=N] [--rounds=N] [--redis=URL]');
  process.exit(0);
}
const dist = resolve(fileURLToPath(new URL('..', import.meta.url)), values.dist);
const load = (file) => import(pathToFileURL(join(dist, file)).href);

const { Admitter } = await load('governance/admission.js');
const { Authenticator } = await load('governance/principal.js');
const { Directory } = await load('governance/directory.js');
const { hashSecret } = await load('governance/keys.js');
const { MemoryLimiter } = await load('governance/limits/memory-limiter.js');

const SECRET = 'sk-sy-bench-0123456789abcdefghijklmnopqrstuvwxyzABCDE';
const open = { models: null, budget: null, limits: null, regions: null, metadata: null, expires_at: null, blocked: false, created_at: 0, updated_at: 0 };
const generous = { rpm: 1e12, tpm: 1e15 };
const org = { ...open, id: 'org_bench', name: 'bench-org', limits: generous, budget: { usd: 1e6, period: 'monthly' } };
const team = { ...open, id: 'team_bench', name: 'bench-team', org_id: org.id, limits: generous, budget: { usd: 1e6, period: 'monthly' } };
const key = {
  ...open,
  id: 'key_bench',
  name: 'bench-key',
  team_id: team.id,
  models: ['gpt-4o-mini'],
  limits: { ...generous, max_parallel: 1e6 },
  budget: { usd: 1e6, period: 'daily' },
  key_hash: hashSecret(SECRET),
  key_hint: 'sk-sy-…',
  previous_hash: null,
  previous_expires_at: null,
  revoked_at: null,
};
const source = {
  listOrgs: async () => [org],
  listTeams: async () => [team],
  listKeys: async () => [key],
  listUsers: async () => [],
  revision: async () => 1,
  spendTotals: async () => new Map(),
};
const directory = new Directory(source, { refreshIntervalMs: 3_600_000, onError: console.error });
await directory.start();
directory.stop();
const authenticator = new Authenticator(undefined, directory);
const headers = { authorization: `Bearer ${SECRET}` };
const request = (principal) => ({ principal, endUser: undefined, model: 'gpt-4o-mini', promptTokens: () => 40, maxOutputTokens: 256, price: { input: 0.15, output: 0.6 } });

async function inProcess(limiter, label) {
  const admitter = new Admitter(directory, limiter, { unpricedModels: 'deny', defaultMaxTokens: 4096 });
  const once = async () => {
    const principal = authenticator.authenticate(headers);
    const ticket = await admitter.admit(request(principal));
    await ticket.settle(300, 0.0002);
  };
  const run = async (count) => {
    for (let i = 0; i < count; i++) await once();
  };
  const requests = Number(values.requests);
  await run(Math.min(20_000, requests));
  const rounds = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    const start = process.hrtime.bigint();
    await run(requests);
    rounds.push(Number(process.hrtime.bigint() - start) / requests / 1000);
  }
  const sorted = [...rounds].sort((a, b) => a - b);
  console.log(`${label}: ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} µs per admission + settlement (median of ${rounds.length} rounds of ${requests}: ${rounds.map((r) => r.toFixed(2)).join(', ')})`);
}

await inProcess(new MemoryLimiter(), 'memory limiter');

if (values.redis) {
  const { Redis } = await import('ioredis');
  const { RedisLimiter } = await load('governance/limits/redis-limiter.js');
  const client = new Redis(values.redis);
  let commands = 0;
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, ...rest) => {
    commands++;
    return send(command, ...rest);
  };
  const limiter = new RedisLimiter(client, { prefix: `switchyard:bench:${process.pid}:` });
  const admitter = new Admitter(directory, limiter, { unpricedModels: 'deny', defaultMaxTokens: 4096 });
  const principal = authenticator.authenticate(headers);
  for (let i = 0; i < 500; i++) await (await admitter.admit(request(principal))).settle(300, 0.0002);
  const samples = [];
  commands = 0;
  const count = 5000;
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    const ticket = await admitter.admit(request(principal));
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
    await ticket.settle(300, 0.0002);
  }
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))].toFixed(0);
  console.log(`redis limiter: admission p50 ${at(0.5)} µs, p99 ${at(0.99)} µs (${count} sequential requests); Redis commands per admission + settlement: ${(commands / count).toFixed(2)}`);
  await limiter.close();
  client.disconnect();
}
