/**
 * Sends N non-streaming chat requests one after another (bench/callgrind.sh):
 * node bench/lib/sequential.mjs URL N [KEY]   (KEY defaults to the benchmarks' master key)
 */
import { request } from 'undici';

const [url, countText, key = 'sk-sy-bench-master-key-0123456789abcdef'] = process.argv.slice(2);
const count = Number(countText);
const body = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are a concise technical assistant.' },
    { role: 'user', content: 'Explain load balancing in two sentences please.' },
  ],
  temperature: 0.2,
  max_tokens: 256,
});
let ok = 0;
for (let i = 0; i < count; i++) {
  const res = await request(url, { method: 'POST', body, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, headersTimeout: 600_000, bodyTimeout: 600_000 });
  await res.body.text();
  if (res.statusCode === 200) ok++;
}
if (ok !== count) {
  console.error(`${count - ok} of ${count} requests failed`);
  process.exit(1);
}
