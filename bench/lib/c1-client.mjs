/**
 * One client, one request at a time, for bench/c1-tail.mjs: `node c1-client.mjs '<json spec>'`,
 * spec { origin, path, headers, body, seconds, out }. Writes every request's wall-clock start (ms)
 * and latency (ms) to `out` as JSON [[start, ms], ...], then prints {"event":"result","requests"}.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

const spec = JSON.parse(process.argv[2] ?? '{}');
const body = Buffer.from(spec.body);
const pool = new Pool(spec.origin, { connections: 1, pipelining: 1, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 600_000 });
const options = { path: spec.path, method: 'POST', headers: { ...spec.headers, 'content-length': String(body.length) }, body };
const samples = [];
const end = performance.now() + spec.seconds * 1000;
while (performance.now() < end) {
  const start = performance.now();
  const res = await pool.request(options);
  await res.body.dump({ limit: Infinity });
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode} from ${spec.origin}`);
  samples.push([performance.timeOrigin + start, performance.now() - start]);
}
writeFileSync(spec.out, JSON.stringify(samples));
console.log(JSON.stringify({ event: 'result', requests: samples.length }));
await pool.close();
