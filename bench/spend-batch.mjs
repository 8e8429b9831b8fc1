#!/usr/bin/env node
/**
 * What one spend batch (request-log rows plus rollups, `storage/spend.ts` writeSpend) costs the
 * event loop on SQLite: the batch's whole time, and the longest stretch in it during which no
 * other callback could run (a setImmediate ticker measures the gaps). Request ids either
 * time-ordered, as the gateway makes them (UUIDv7), or random, as clients behind Envoy or
 * ingress-nginx send them in x-request-id; the request_id index takes those all over its pages.
 *
 * `node bench/spend-batch.mjs [--dist=build] [--ids=ordered|random] [--rows-before=0] [--batches=60]`
 * (tsc's output; `npm run build` first). The database is a fresh file in a temporary folder.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers';

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: 'build' },
    ids: { type: 'string', default: 'ordered' },
    'rows-before': { type: 'string', default: '0' },
    batches: { type: 'string', default: '60' },
  },
});
if (values.ids !== 'ordered' && values.ids !== 'random') throw new Error('--ids is ordered or random');
const BATCH = 500;
const repo = fileURLToPath(new URL('..', import.meta.url));
const load = (file) => import(pathToFileURL(join(resolve(repo, values.dist), file)).href);
const { openDatabase } = await load('storage/database.js');
const { writeSpend } = await load('storage/spend.js');
const { RequestLogInserter } = await load('storage/request-log.js');

const dir = mkdtempSync(join(tmpdir(), 'switchyard-spend-batch-'));
const database = await openDatabase(`sqlite://${join(dir, 'switchyard.db')}`);
const inserter = new RequestLogInserter(database);

let serial = 0;
/** UUIDv7-like: the time first, so each id sorts after the ones before it. */
const orderedId = () => `${Date.now().toString(16).padStart(12, '0')}-${(++serial).toString(16).padStart(8, '0')}-7000-8000-000000000000`;
const nextId = values.ids === 'random' ? randomUUID : orderedId;
const row = () => ({
  request_id: nextId(),
  at: Date.now(),
  key_id: 'master',
  team_id: null,
  org_id: null,
  end_user: null,
  model: 'gpt-4o-mini',
  provider: 'mock-openai',
  upstream_model: 'gpt-4o-mini',
  prompt_tokens: 42,
  completion_tokens: 98,
  cost_usd: 0.0000651,
  latency_ms: 0.31,
  status: 200,
  cache: 'MISS',
  tags: [],
  route: 'chat',
  stream: false,
  error_code: null,
  ttft_ms: null,
  cached_tokens: 0,
  attempts: 1,
  trace_id: null,
  request_body: null,
  response_body: null,
  spend: true,
});
const batch = () => Array.from({ length: BATCH }, row);

try {
  for (let written = 0; written < Number(values['rows-before']); written += BATCH) await writeSpend(database.db, batch(), inserter, { id: randomUUID() });
  const longest = [];
  const whole = [];
  for (let b = 0; b < Number(values.batches); b++) {
    const rows = batch();
    let last = performance.now();
    let gap = 0;
    let writing = true;
    const tick = () => {
      const now = performance.now();
      gap = Math.max(gap, now - last);
      last = now;
      if (writing) setImmediate(tick);
    };
    setImmediate(tick);
    const start = performance.now();
    await writeSpend(database.db, rows, inserter, { id: randomUUID() });
    const end = performance.now();
    writing = false;
    longest.push(Math.max(gap, end - last));
    whole.push(end - start);
  }
  const at = (list, q) => [...list].sort((a, b) => a - b)[Math.floor(q * (list.length - 1))].toFixed(2);
  console.log(`${values.dist}, ${values.ids} ids, ${values['rows-before']} rows before, ${values.batches} batches of ${BATCH}:`);
  console.log(`  longest block per batch: p50 ${at(longest, 0.5)} ms, p90 ${at(longest, 0.9)} ms, max ${at(longest, 1)} ms`);
  console.log(`  whole batch:             p50 ${at(whole, 0.5)} ms, p90 ${at(whole, 0.9)} ms, max ${at(whole, 1)} ms`);
} finally {
  await database.close();
  rmSync(dir, { recursive: true, force: true });
}
