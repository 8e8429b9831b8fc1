/**
 * The `vertex` provider through the gateway with the official OpenAI SDK, against the fake Vertex
 * AI and its OAuth token endpoint, with a service-account JSON key file holding a key generated
 * for the run: Vertex's paths, one token for many requests, a token refreshed before it expires
 * and after Vertex refused it, credentials missing or broken (502s that say what to configure and
 * hold no key material), the project and key from the environment, a missing project at start-up,
 * and embeddings through :predict.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { embeddingValues } from '../fakes/gemini-wire.js';
import { FakeVertex } from '../fakes/vertex-upstream.js';
import { sdk, collect, apiError, type Chunk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

let fake: FakeVertex;
let gateway: Gateway;
let client: OpenAI;
let dir: string;
let keyFile: string;
let brokenKeyFile: string;


beforeAll(async () => {
  fake = await FakeVertex.start({ project: 'acme-prod-1234', location: 'europe-west4' });
  dir = await mkdtemp(join(tmpdir(), 'switchyard-vertex-e2e-'));
  keyFile = join(dir, 'service-account.json');
  await writeFile(keyFile, fake.keyJson);
  // The key's "\n" escapes pasted as real line breaks: no longer JSON.
  brokenKeyFile = join(dir, 'broken.json');
  await writeFile(brokenKeyFile, fake.keyJson.replace(/\\n/g, '\n'));
  const common = `project: ${fake.project}, location: ${fake.location}, base_url: "${fake.url}"`;
  gateway = await startGateway(`
providers:
  vx: { type: vertex, ${common}, credentials_file: "${keyFile}" }
  vshort: { type: vertex, ${common}, credentials_file: "${keyFile}", token_url: "${fake.tokenUrl}" }
  vnone: { type: vertex, ${common} }
  vbroken: { type: vertex, ${common}, credentials_file: "${brokenKeyFile}" }
  backup: { type: mock }
models:
  flash: { targets: [ { provider: vx, model: gemini-2.5-flash } ] }
  short: { targets: [ { provider: vshort, model: gemini-2.5-flash } ] }
  nocreds: { targets: [ { provider: vnone, model: gemini-2.5-flash } ] }
  broken: { targets: [ { provider: vbroken, model: gemini-2.5-flash } ] }
  broken-failover: { targets: [ { provider: vbroken, model: gemini-2.5-flash }, { provider: backup, model: mock } ] }
  embed: { targets: [ { provider: vx, model: text-embedding-005 } ] }
# One attempt per target: these tests check how a single failure is answered.
routing: { retry: { max_retries: 0 } }
`);
  client = sdk(gateway);
});

afterAll(async () => {
  await stopAllGateways();
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  fake.reset();
  fake.tokenLifetimeSeconds = 3599;
});



const text = (chunks: Chunk[]): string => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
const modelPath = (method: string): string => `/v1/projects/${fake.project}/locations/${fake.location}/publishers/google/models/gemini-2.5-flash:${method}`;

/** Pieces of the private key: none may reach a client. */
function keyPieces(): string[] {
  const body = fake.privateKeyPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, '');
  return [body.slice(0, 40), body.slice(500, 540), body.slice(-40), 'PRIVATE KEY'];
}

describe('vertex provider: chat and streaming', () => {
  it('chats through :generateContent with the service account\'s bearer token', async () => {
    fake.enqueue({ kind: 'reply', text: 'Bonjour.', finish: 'stop', usage: { input: 10, output: 2 } });
    const { data, response } = await client.chat.completions
      .create({ model: 'flash', messages: [{ role: 'system', content: 'Answer in French.' }, { role: 'user', content: 'Hello' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Bonjour.');
    expect(data.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 });
    expect(response.headers.get('x-switchyard-provider')).toBe('vx');

    const [token, call] = fake.calls;
    expect(token!.url).toBe('/token');
    expect(fake.tokenRequests[0]!.claims).toMatchObject({ iss: fake.clientEmail, aud: fake.tokenUrl, scope: 'https://www.googleapis.com/auth/cloud-platform' });
    expect(call!.url).toBe(modelPath('generateContent'));
    expect(call!.headers.authorization).toBe(`Bearer ${fake.tokenRequests[0]!.token}`);
    expect(fake.lastChatBody()).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Hello' }] }], systemInstruction: { parts: [{ text: 'Answer in French.' }] } });
  });

  it('streams through :streamGenerateContent?alt=sse, with usage when asked', async () => {
    fake.enqueue({ kind: 'reply', text: 'one two three four', finish: 'stop', usage: { input: 3, output: 4 } });
    const chunks = await collect(await client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'Count' }], stream: true, stream_options: { include_usage: true } }));
    expect(text(chunks)).toBe('one two three four');
    expect(chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter(Boolean)).toEqual(['stop']);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 4 });
    expect(fake.calls.at(-1)!.url).toBe(`${modelPath('streamGenerateContent')}?alt=sse`);
  });
});

describe('vertex provider: access tokens', () => {
  it('one token serves several requests, streamed and not, concurrent or not', async () => {
    // The provider's token may be cached from an earlier test already: at most one fetch here.
    await client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'one' }] });
    await Promise.all([
      client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'two' }] }),
      collect(await client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'three' }], stream: true })),
      client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'four' }] }),
    ]);
    expect(fake.tokenRequests.length).toBeLessThanOrEqual(1);
    expect(fake.chatRequestCount()).toBe(4);
    expect(new Set(fake.bearerTokens()).size).toBe(1);
  });

  it('a token about to expire is replaced before Vertex would refuse it (token_url set)', async () => {
    fake.tokenLifetimeSeconds = 1; // refreshed at half its life
    await client.chat.completions.create({ model: 'short', messages: [{ role: 'user', content: 'first' }] });
    await client.chat.completions.create({ model: 'short', messages: [{ role: 'user', content: 'again at once' }] });
    expect(fake.tokenRequests).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the first token has expired
    const answer = await client.chat.completions.create({ model: 'short', messages: [{ role: 'user', content: 'later' }] });
    expect(answer.choices[0]!.message.content).toMatch(/\S/);
    expect(fake.tokenRequests).toHaveLength(2);
    const [first, second, third] = fake.bearerTokens();
    expect(second).toBe(first);
    expect(third).toBe(fake.tokenRequests[1]!.token);
  });

  it('a token Vertex refuses (401) is dropped: that request is a 502, the next one gets a new token', async () => {
    await client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'warm' }] });
    const fetched = fake.tokenRequests.length;
    fake.revokeTokens();
    const err = await apiError(() => client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'refused' }] }));
    expect(err.status).toBe(502);
    expect((err.error as { message: string }).message).toMatch(/refused the gateway's credentials \(HTTP 401\).*credentials_file \/ credentials_json/);
    const answer = await client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'again' }] });
    expect(answer.choices[0]!.message.content).toMatch(/\S/);
    expect(fake.tokenRequests).toHaveLength(fetched + 1);
    const [warm, refused, again] = fake.bearerTokens();
    expect(refused).toBe(warm);
    expect(again).toBe(fake.tokenRequests.at(-1)!.token);
  });
});

describe('vertex provider: credentials problems', () => {
  it('no credentials at all → 502 at request time naming what to configure; nothing is called', async () => {
    for (const stream of [false, true]) {
      const err = await apiError(() => client.chat.completions.create({ model: 'nocreds', messages: [{ role: 'user', content: 'Hi' }], stream }));
      expect(err.status).toBe(502);
      expect((err.error as { message: string }).message).toMatch(/"vnone" has no service-account credentials: set credentials_file .* or credentials_json .* GOOGLE_APPLICATION_CREDENTIALS/);
    }
    expect(fake.calls).toHaveLength(0);
  });

  it('a key file that is not JSON → 502 naming the file, with no key material; failover still works', async () => {
    const err = await apiError(() => client.chat.completions.create({ model: 'broken', messages: [{ role: 'user', content: 'Hi' }] }));
    expect(err.status).toBe(502);
    const message = (err.error as { message: string }).message;
    expect(message).toContain(`service-account key file "${brokenKeyFile}"`);
    expect(message).toContain('not valid JSON');
    const seen = JSON.stringify(err.error) + JSON.stringify([...err.headers!]);
    for (const piece of keyPieces()) expect(seen).not.toContain(piece);

    const { data, response } = await client.chat.completions.create({ model: 'broken-failover', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(data.choices[0]!.message.content).toMatch(/mock/);
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    expect(fake.calls).toHaveLength(0);
  });

  it('writes no key material, assertion or token to the log', async () => {
    await apiError(() => client.chat.completions.create({ model: 'broken', messages: [{ role: 'user', content: 'Hi' }] }));
    await client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'Hi' }] });
    await new Promise((resolve) => setTimeout(resolve, 300)); // the log is flushed at least every 200 ms
    const logs = gateway.stdout() + gateway.stderr();
    expect(logs).toContain('vbroken');
    for (const piece of keyPieces()) expect(logs).not.toContain(piece);
    expect(logs).not.toContain('ya29.');
    expect(logs).not.toContain('eyJ');
  });
});

describe('vertex provider: from the environment', () => {
  it('takes the project from GOOGLE_CLOUD_PROJECT and the key from GOOGLE_APPLICATION_CREDENTIALS', async () => {
    const envGateway = await startGateway(
      `
providers:
  vx: { type: vertex, location: ${fake.location}, base_url: "${fake.url}" }
models:
  flash: { targets: [ { provider: vx, model: gemini-2.5-flash } ] }
`,
      { env: { GOOGLE_CLOUD_PROJECT: fake.project, GOOGLE_APPLICATION_CREDENTIALS: keyFile } },
    );
    fake.enqueue({ kind: 'reply', text: 'From the environment.', finish: 'stop', usage: { input: 2, output: 3 } });
    const answer = await sdk(envGateway).chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'Hi' }] });
    expect(answer.choices[0]!.message.content).toBe('From the environment.');
    expect(fake.calls.at(-1)!.url).toBe(modelPath('generateContent'));
    await envGateway.stop();
  });

  it('without a project anywhere the gateway does not start, and says which key to set', async () => {
    const start = startGateway(`
providers:
  vx: { type: vertex, credentials_file: "${keyFile}" }
models:
  flash: { targets: [ { provider: vx, model: gemini-2.5-flash } ] }
`);
    await expect(start).rejects.toThrow(/providers\.vx\.project: a vertex provider needs a Google Cloud project: set project, or the GOOGLE_CLOUD_PROJECT environment variable/);
  });
});

describe('vertex provider: embeddings', () => {
  it('embeds through :predict with dimensions; usage is Vertex\'s token count', async () => {
    const answer = await client.embeddings.create({ model: 'embed', input: ['the quick brown fox', 'jumps'], dimensions: 4 });
    expect(answer.data.map((d) => d.embedding)).toEqual([embeddingValues('the quick brown fox', 4), embeddingValues('jumps', 4)]);
    expect(answer.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });
    const call = fake.calls.at(-1)!;
    expect(call.url).toBe(`/v1/projects/${fake.project}/locations/${fake.location}/publishers/google/models/text-embedding-005:predict`);
    expect(call.body).toEqual({ instances: [{ content: 'the quick brown fox' }, { content: 'jumps' }], parameters: { outputDimensionality: 4 } });
  });
});
