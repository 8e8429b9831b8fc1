/**
 * The `bedrock` provider through the gateway with the official OpenAI SDK, against the fake
 * Bedrock Runtime (which verifies every SigV4 signature), for what the conformance suite does not
 * cover: model ARNs in the path, credentials (wrong secret, none, from the environment with a
 * session token), in-stream exceptions before and after output, framing over tiny network chunks,
 * and embeddings through Titan and Cohere.
 */
import type { OpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeBedrock } from '../fakes/bedrock-upstream.js';
import { tokenCount, vectorFor } from '../fakes/bedrock-wire.js';
import { raw, sdk, collect, apiError, type Chunk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

const ARN = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0';
const WRONG_SECRET = 'wrong/Secret+Key0000000000000000000000099';

let fake: FakeBedrock;
let envFake: FakeBedrock;
let gateway: Gateway;
let envGateway: Gateway;
let client: OpenAI;


beforeAll(async () => {
  fake = await FakeBedrock.start();
  envFake = await FakeBedrock.start({ accessKeyId: 'ASIAFAKETEMPORARY01', secretAccessKey: 'temp/Secret+Key000000000000000000000000001', sessionToken: 'FwoGZXIvYXdzEFakeSessionToken', region: 'eu-west-1' });
  const creds = `access_key_id: ${fake.accessKeyId}, secret_access_key: "${fake.secretAccessKey}"`;
  gateway = await startGateway(`
providers:
  aws: { type: bedrock, region: us-east-1, ${creds}, base_url: ${fake.url} }
  awswrong: { type: bedrock, region: us-east-1, access_key_id: ${fake.accessKeyId}, secret_access_key: "${WRONG_SECRET}", base_url: ${fake.url} }
  awsnone: { type: bedrock, region: us-east-1, base_url: ${fake.url} }
  backup: { type: mock }
models:
  claude: { targets: [ { provider: aws, model: "${ARN}" } ] }
  wrong: { targets: [ { provider: awswrong, model: "${fake.model}" } ] }
  nocreds: { targets: [ { provider: awsnone, model: "${fake.model}" } ] }
  failover: { targets: [ { provider: aws, model: "${fake.model}" }, { provider: backup, model: mock } ] }
  titan: { targets: [ { provider: aws, model: "amazon.titan-embed-text-v2:0" } ] }
  cohere: { targets: [ { provider: aws, model: "cohere.embed-english-v3" } ] }
  nova: { targets: [ { provider: aws, model: "amazon.nova-lite-v1:0" } ] }
# One attempt per target: these tests check how a single failure is answered.
routing: { retry: { max_retries: 0 } }
`);
  envGateway = await startGateway(
    `
providers:
  aws: { type: bedrock, base_url: ${envFake.url} }
models:
  claude: { targets: [ { provider: aws, model: "${envFake.model}" } ] }
`,
    { env: { AWS_ACCESS_KEY_ID: envFake.accessKeyId, AWS_SECRET_ACCESS_KEY: envFake.secretAccessKey, AWS_SESSION_TOKEN: envFake.sessionToken!, AWS_REGION: 'eu-west-1' } },
  );
  client = sdk(gateway);
});

afterAll(async () => {
  await stopAllGateways();
  await fake?.close();
  await envFake?.close();
});

beforeEach(() => {
  fake.reset();
  envFake.reset();
});



const text = (chunks: Chunk[]): string => chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? '')).join('');

describe('signing', () => {
  it('signs a request for a model ARN: the id is one encoded path segment and the fake accepts the signature', async () => {
    fake.enqueue({ kind: 'reply', text: 'Signed and delivered.', finish: 'stop', usage: { input: 5, output: 3 } });
    const { data, response } = await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Signed and delivered.');
    expect(response.headers.get('x-switchyard-model')).toBe(ARN);
    const [request] = fake.requests;
    expect(request).toMatchObject({ signature: 'ok', modelId: ARN, operation: 'converse' });
    expect(request!.rawPath).toBe(`/model/${encodeURIComponent(ARN)}/converse`);
    expect(request!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFAKEBEDROCK0001\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=[^,]*host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
  });

  it('a wrong secret → 502 naming the credentials problem, with no secret in the answer, and no failover loop', async () => {
    const err = await apiError(() => client.chat.completions.create({ model: 'wrong', messages: [{ role: 'user', content: 'Hi' }] }));
    expect(err.status).toBe(502);
    const message = (err.error as { message: string }).message;
    expect(message).toContain('credentials');
    expect(message).toContain('signature we calculated does not match');
    const seen = JSON.stringify(err.error) + JSON.stringify([...err.headers!]);
    for (const secret of [WRONG_SECRET, fake.secretAccessKey]) expect(seen).not.toContain(secret);
    expect(fake.requests.map((r) => r.signature)).toEqual(['InvalidSignatureException']);
  });

  it('no credentials at all → 502 at request time naming what to configure, without calling AWS', async () => {
    const err = await apiError(() => client.chat.completions.create({ model: 'nocreds', messages: [{ role: 'user', content: 'Hi' }] }));
    expect(err.status).toBe(502);
    expect((err.error as { message: string }).message).toMatch(/access_key_id.*secret_access_key.*AWS_ACCESS_KEY_ID.*AWS_SECRET_ACCESS_KEY/);
    expect(fake.requests).toHaveLength(0);
  });

  it('takes credentials, session token and region from the environment', async () => {
    envFake.enqueue({ kind: 'reply', text: 'Temporary credentials work.', finish: 'stop', usage: { input: 4, output: 3 } });
    const chunks = await collect(await sdk(envGateway).chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }], stream: true }));
    expect(text(chunks)).toBe('Temporary credentials work.');
    const [request] = envFake.requests;
    expect(request!.signature).toBe('ok');
    expect(request!.headers['x-amz-security-token']).toBe(envFake.sessionToken);
    expect(request!.headers.authorization).toContain('/eu-west-1/bedrock/aws4_request');
    expect(request!.headers.authorization).toContain('x-amz-security-token');
  });
});

describe('streams', () => {
  it('reassembles event-stream messages cut into 7-byte network chunks', async () => {
    fake.chunkBytes = 7;
    const answer = 'A longer answer, so that many messages are split across many small network chunks.';
    fake.enqueue({ kind: 'reply', text: answer, finish: 'stop', usage: { input: 9, output: 17, cacheRead: 100 } });
    const chunks = await collect(await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'Go' }], stream: true, stream_options: { include_usage: true } }));
    expect(text(chunks)).toBe(answer);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 109, completion_tokens: 17, total_tokens: 126, prompt_tokens_details: { cached_tokens: 100 } });
  });

  it('a throttlingException in the stream before any output fails over to the next target', async () => {
    fake.enqueueEvents([{ event: 'messageStart', payload: { role: 'assistant' } }, { exception: 'throttlingException', payload: { message: 'Too many tokens, please wait before trying again.' } }]);
    const { data, response } = await client.chat.completions.create({ model: 'failover', messages: [{ role: 'user', content: 'Hi' }], stream: true }).withResponse();
    const chunks = await collect(data);
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    expect(response.headers.get('x-switchyard-provider')).toBe('backup');
    expect(text(chunks)).toMatch(/\S/);
    expect(fake.requests).toHaveLength(1);
  });

  it('a modelStreamErrorException after output ends the stream with an OpenAI error event', async () => {
    fake.enqueueEvents([
      { event: 'messageStart', payload: { role: 'assistant' } },
      { event: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'Half an answer' } } },
      { exception: 'modelStreamErrorException', payload: { message: 'Received error from the model.', originalStatusCode: 500, originalMessage: 'boom' } },
    ]);
    const received: Chunk[] = [];
    const err = await apiError(async () => {
      for await (const chunk of await client.chat.completions.create({ model: 'failover', messages: [{ role: 'user', content: 'Hi' }], stream: true })) received.push(chunk);
    });
    expect(err.message).toContain('Received error from the model.');
    expect(text(received)).toBe('Half an answer');
    expect(fake.requests).toHaveLength(1);
  });

  it('a stream that ends without messageStop is an error, not a silent success', async () => {
    fake.enqueueEvents([{ event: 'messageStart', payload: { role: 'assistant' } }, { event: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'Cut' } } }]);
    const err = await apiError(async () => collect(await client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }], stream: true })));
    expect(err.message).toContain('ended the stream before it was complete');
  });
});

describe('requests Bedrock cannot express', () => {
  it('an image link → 400 naming the field (Converse takes image bytes)', async () => {
    const res = await raw(gateway, '/v1/chat/completions', {
      body: JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] }),
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: 'messages[0].content[0].image_url.url' } });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('embeddings', () => {
  const decode = (b64: string): number[] => {
    const bytes = Buffer.from(b64, 'base64');
    return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
  };

  it('Titan: one InvokeModel call per input, dimensions passed, token usage from Bedrock', async () => {
    const input = ['The quick brown fox', 'jumps over the lazy dog today'];
    // The SDK asks for base64 and decodes the float32 bytes itself.
    const res = await client.embeddings.create({ model: 'titan', input, dimensions: 8 });
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    res.data.forEach((d, i) => {
      const expected = vectorFor(input[i]!, 8);
      expect(d.embedding).toHaveLength(8);
      d.embedding.forEach((value, j) => expect(value).toBeCloseTo(expected[j]!, 5));
    });
    expect(res.usage).toEqual({ prompt_tokens: tokenCount(input[0]!) + tokenCount(input[1]!), total_tokens: tokenCount(input[0]!) + tokenCount(input[1]!) });
    expect(fake.requests.map((r) => [r.operation, r.modelId, r.signature, r.body])).toEqual(input.map((t) => ['invoke', 'amazon.titan-embed-text-v2:0', 'ok', { inputText: t, dimensions: 8 }]));
  });

  it('Cohere: the texts batched in one call with an input_type, base64 as OpenAI encodes it', async () => {
    const input = ['alpha', 'beta', 'gamma'];
    const res = await raw(gateway, '/v1/embeddings', { body: JSON.stringify({ model: 'cohere', input, encoding_format: 'base64', dimensions: 4 }) });
    expect(res.status).toBe(200);
    const data = (res.json as { data: { embedding: string; index: number }[] }).data;
    data.forEach((d, i) => {
      const expected = vectorFor(input[i]!, 4);
      decode(d.embedding).forEach((value, j) => expect(value).toBeCloseTo(expected[j]!, 5));
    });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.body).toEqual({ texts: input, input_type: 'search_document', output_dimension: 4 });
  });

  it('another model family → 400 naming the supported ones', async () => {
    const err = await apiError(() => client.embeddings.create({ model: 'nova', input: 'x' }));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/amazon\.titan-embed-\*.*cohere\.embed-\*/);
    expect(fake.requests).toHaveLength(0);
  });
});
