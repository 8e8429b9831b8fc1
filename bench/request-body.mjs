#!/usr/bin/env node
/**
 * What a chat request's body costs the gateway on its way through, for prompts of 1 to 128 KB:
 * reading it (`http/plugins/body.ts`: the UTF-8 check, the parse, the nesting check) against
 * `JSON.parse` alone, and writing it for an OpenAI-format upstream (`buildChatBody`: the client's
 * bytes with the model edited) against `JSON.stringify` of the parsed request.
 * `node bench/request-body.mjs [--dist=build]` (tsc's output; `npm run build` first).
 */
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_MESSAGES, longMessages } from './lib/bodies.mjs';

const { values } = parseArgs({ options: { dist: { type: 'string', default: 'build' } } });
const repo = fileURLToPath(new URL('..', import.meta.url));
const load = (file) => import(pathToFileURL(join(resolve(repo, values.dist), file)).href);
const { parseJsonBody } = await load('http/plugins/body.js');
const { buildChatBody } = await load('providers/openai/request.js');
const { withClientJson } = await load('gateway/client-json.js').catch(() => ({ withClientJson: (value) => value }));

/** A chat request body with `messages`, as the client sends it. */
const chatBody = (messages) => Buffer.from(JSON.stringify({ model: 'smart', messages, temperature: 0.2, max_tokens: 256 }));

const perCall = (fn, arg, bytes) => {
  const n = Math.max(2000, Math.round(4e7 / bytes));
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(arg);
  return Number(process.hrtime.bigint() - start) / n / 1000;
};
/** A first round warms both up; the second is reported. */
const pair = (a, b, arg, bytes) => {
  perCall(a, arg, bytes);
  perCall(b, arg, bytes);
  return [perCall(a, arg, bytes), perCall(b, arg, bytes)];
};
const cell = (us) => `${us.toFixed(1).padStart(8)} µs`;

console.log('body        read: gateway  JSON.parse  ratio   write: gateway  JSON.stringify  ratio');
for (const body of [BENCH_MESSAGES, ...[1, 8, 32, 128].map(longMessages)].map(chatBody)) {
  const [read, parse] = pair(parseJsonBody, (b) => JSON.parse(b.toString('utf8')), body, body.length);
  const request = withClientJson(JSON.parse(body.toString('utf8')), body);
  const [write, stringify] = pair((r) => buildChatBody(r, 'gpt-4o-mini', false), (r) => JSON.stringify({ ...r, model: 'gpt-4o-mini' }), request, body.length);
  console.log(`${(body.length / 1024).toFixed(1).padStart(6)} KB  ${cell(read)} ${cell(parse)}  ${(read / parse).toFixed(2).padStart(5)}  ${cell(write)}    ${cell(stringify)}  ${(write / stringify).toFixed(2).padStart(5)}`);
}
