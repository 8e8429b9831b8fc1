#!/usr/bin/env node
/**
 * What reading a request body costs the gateway (`http/plugins/body.ts`: the UTF-8 check, the
 * parse, the nesting check) against `JSON.parse` alone, for chat requests of 1 to 128 KB:
 * `node bench/body-parse.mjs [--dist=build]` (tsc's output; `npm run build` first).
 */
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { dist: { type: 'string', default: 'build' } } });
const repo = fileURLToPath(new URL('..', import.meta.url));
const { parseJsonBody } = await import(pathToFileURL(join(resolve(repo, values.dist), 'http/plugins/body.js')).href);

/** Eight messages of prose adding up to about `kb` KB, as a chat with some history sends. */
const chatBody = (kb) => {
  const sentence = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. ';
  const content = sentence.repeat(Math.ceil((kb * 1024) / 8 / sentence.length));
  const messages = Array.from({ length: 8 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content }));
  return Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages, temperature: 0.2 }));
};

const perCall = (fn, body) => {
  const n = Math.max(200, Math.round(4e7 / body.length));
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(body);
  return Number(process.hrtime.bigint() - start) / n / 1000;
};
const jsonParse = (body) => JSON.parse(body.toString('utf8'));

console.log('body       parseJsonBody  JSON.parse alone  ratio');
for (const kb of [1, 8, 32, 128]) {
  const body = chatBody(kb);
  // A first round warms both up; the second is reported.
  perCall(parseJsonBody, body);
  perCall(jsonParse, body);
  const gateway = perCall(parseJsonBody, body);
  const alone = perCall(jsonParse, body);
  console.log(`${(body.length / 1024).toFixed(1).padStart(6)} KB  ${gateway.toFixed(1).padStart(10)} µs  ${alone.toFixed(1).padStart(13)} µs  ${(gateway / alone).toFixed(2).padStart(5)}`);
}
