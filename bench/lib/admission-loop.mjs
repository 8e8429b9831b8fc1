/**
 * The governed request's own governance work in a loop, for bench/callgrind-admission.sh:
 * admission of the benchmarks' virtual key (a key in a team in an org, each level with RPM, TPM
 * and a budget, the key also max_parallel: 10 rules), its x-ratelimit headers and its settlement.
 *
 *   node bench/lib/admission-loop.mjs DIST N GATE
 *
 * Runs 65,000 warm-up iterations (V8 has optimised the path long before), prints "ready" and
 * waits for the file GATE to appear (the caller zeroes callgrind's counters, then creates it);
 * runs N iterations, prints "done" and waits for GATE again (the caller dumps the counters).
 */
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [distArg, countArg, gate] = process.argv.slice(2);
const load = (file) => import(pathToFileURL(resolve(distArg, file)).href);
const { Admitter } = await load('governance/admission.js');
const { MemoryLimiter } = await load('governance/limits/memory-limiter.js');

const open = { regions: null, metadata: null, expires_at: null, blocked: false, created_at: 0, updated_at: 0 };
const limits = { rpm: 1e9, tpm: 1e12 };
const budget = { usd: 1e9, period: 'monthly' };
const org = { ...open, id: 'org_bench', name: 'bench-org', models: null, limits, budget };
const team = { ...open, id: 'team_bench', name: 'bench-team', org_id: org.id, models: null, limits, budget };
const key = { ...open, id: 'key_bench', name: 'bench-key', team_id: team.id, models: ['gpt-4o-mini'], limits: { ...limits, max_parallel: 100_000 }, budget: { ...budget, period: 'daily' } };
const principal = { master: false, key, team, org };
const directory = { user: () => undefined, recordedSpend: () => 0 };
const admitter = new Admitter(directory, new MemoryLimiter(), { unpricedModels: 'deny', defaultMaxTokens: 4096 });
const price = { input: 0.15, output: 0.6 };

async function once() {
  const ticket = await admitter.admit({ principal, endUser: undefined, model: 'gpt-4o-mini', promptTokens: () => 12, promptTokensBound: () => 48, maxOutputTokens: undefined, price });
  ticket.headers({});
  await ticket.settle(30, 0.00001);
}

async function waitForGate() {
  while (!existsSync(gate)) await new Promise((done) => setTimeout(done, 100));
  rmSync(gate);
}

for (let i = 0; i < 60_000; i++) await once();
await new Promise((done) => setTimeout(done, 3000)); // concurrent compilation finishes
for (let i = 0; i < 5_000; i++) await once();
console.log('ready');
await waitForGate();
for (let i = 0, n = Number(countArg); i < n; i++) await once();
console.log('done');
await waitForGate();
