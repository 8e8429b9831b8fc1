/**
 * Client auth with `auth.master_key`: no key or a wrong key → 401 in OpenAI's shape; the key is
 * accepted as `Authorization: Bearer` and as `x-api-key`. (The open gateway, with no master key,
 * is covered in chat.test.ts.)
 */
import { APIError, AuthenticationError, type OpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOpenAIError, raw, sdk, type OpenAIErrorShape } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

const MASTER_KEY = 'sk-master-e2e-0123456789';
let gateway: Gateway;

beforeAll(async () => {
  // The key comes from the environment through ${VAR} interpolation, as in DESIGN.md §4.
  gateway = await startGateway(
    `
auth:
  master_key: \${E2E_MASTER_KEY}
providers:
  demo: { type: mock }
models:
  mock: { targets: [ { provider: demo, model: mock } ] }
`,
    { env: { E2E_MASTER_KEY: MASTER_KEY } },
  );
});

afterAll(stopAllGateways);

const chatBody = JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'auth' }] });

function expect401(status: number, body: unknown): void {
  expect(status).toBe(401);
  expect(isOpenAIError(body)).toBe(true);
  expect((body as OpenAIErrorShape).error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
}

describe('with auth.master_key', () => {
  it('says at start-up that auth is on', () => {
    expect(gateway.stderr()).toContain('auth             on (master key required; admin API at /admin)');
    expect(gateway.logs().find((l) => l.msg === 'switchyard listening')?.auth).toBe(true);
  });

  it('answers a request without a key with 401', async () => {
    const chat = await raw(gateway, '/v1/chat/completions', { body: chatBody });
    expect401(chat.status, chat.json);
    expect((chat.json as OpenAIErrorShape).error.message).toMatch(/Missing API key/);
    const models = await raw(gateway, '/v1/models');
    expect401(models.status, models.json);
  });

  it('answers a wrong key with 401 and the SDK raises AuthenticationError', async () => {
    const error = await sdk(gateway, 'sk-not-the-master-key').chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as APIError).status).toBe(401);
    expect((error as APIError).code).toBe('invalid_api_key');
    expect((error as APIError).message).not.toContain(MASTER_KEY);

    const wrongHeader = await raw(gateway, '/v1/chat/completions', { body: chatBody, headers: { 'x-api-key': 'sk-wrong' } });
    expect401(wrongHeader.status, wrongHeader.json);
    const notBearer = await raw(gateway, '/v1/chat/completions', { body: chatBody, headers: { authorization: `Basic ${MASTER_KEY}` } });
    expect401(notBearer.status, notBearer.json);
  });

  it('accepts the key as Authorization: Bearer (the SDK) for chat, embeddings and models', async () => {
    const client = sdk(gateway, MASTER_KEY);
    const completion = await client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'x' }] });
    expect(completion.choices[0]!.message.content).toBe('This is a mock reply. You said: x');
    const embedding = await client.embeddings.create({ model: 'mock', input: 'x', encoding_format: 'float' });
    expect(embedding.data[0]!.embedding).toHaveLength(1536);
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(['mock']);
  });

  it('accepts the key as x-api-key', async () => {
    const res = await raw(gateway, '/v1/chat/completions', { body: chatBody, headers: { 'x-api-key': MASTER_KEY } });
    expect(res.status).toBe(200);
    expect((res.json as OpenAI.Chat.Completions.ChatCompletion).choices[0]!.message.content).toBe('This is a mock reply. You said: auth');
  });

  it('keeps health checks and metrics reachable without a key (for probes and scrapers)', async () => {
    expect((await raw(gateway, '/health/live')).status).toBe(200);
    expect((await raw(gateway, '/health/ready')).status).toBe(200);
    expect((await raw(gateway, '/metrics')).status).toBe(200);
  });
});
