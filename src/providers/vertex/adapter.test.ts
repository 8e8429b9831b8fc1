/** Vertex URLs, and the adapter against the fake Vertex AI over real HTTP: auth, chat, stream, embeddings, failures. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeVertex } from '../../../test/fakes/vertex-upstream.js';
import { embeddingValues } from '../../../test/fakes/gemini-wire.js';
import { GatewayError } from '../../gateway/errors.js';
import type { ChatCompletionChunk, ChatRequest } from '../../gateway/types.js';
import { closeTransport } from '../transport.js';
import type { AttemptContext } from '../types.js';
import { VertexAdapter, vertexModelUrl, vertexOrigin, type VertexAdapterOptions } from './adapter.js';

describe('URLs', () => {
  it('regional, multi-regional and global endpoints', () => {
    expect(vertexOrigin('us-central1')).toBe('https://us-central1-aiplatform.googleapis.com');
    expect(vertexOrigin('europe-west4')).toBe('https://europe-west4-aiplatform.googleapis.com');
    expect(vertexOrigin('us')).toBe('https://aiplatform.us.rep.googleapis.com');
    expect(vertexOrigin('eu')).toBe('https://aiplatform.eu.rep.googleapis.com');
    expect(vertexOrigin('global')).toBe('https://aiplatform.googleapis.com');
  });

  it('publisher model methods under the project and location', () => {
    expect(vertexModelUrl(vertexOrigin('global'), 'my-proj', 'global', 'gemini-2.5-flash', 'generateContent')).toBe(
      'https://aiplatform.googleapis.com/v1/projects/my-proj/locations/global/publishers/google/models/gemini-2.5-flash:generateContent',
    );
    expect(vertexModelUrl(vertexOrigin('europe-west4'), 'my-proj', 'europe-west4', 'text-embedding-005', 'predict')).toBe(
      'https://europe-west4-aiplatform.googleapis.com/v1/projects/my-proj/locations/europe-west4/publishers/google/models/text-embedding-005:predict',
    );
  });

  it('a base_url override keeps the path (trailing slashes dropped); model names are escaped', () => {
    expect(vertexModelUrl('https://vertex.internal.example/', 'example.com:proj', 'us-central1', 'gemini-2.0-flash-001?x#y', 'streamGenerateContent')).toBe(
      'https://vertex.internal.example/v1/projects/example.com%3Aproj/locations/us-central1/publishers/google/models/gemini-2.0-flash-001%3Fx%23y:streamGenerateContent',
    );
  });

  it('a model name with a "/" is a resource of the location (a tuned model endpoint)', () => {
    expect(vertexModelUrl('https://us-central1-aiplatform.googleapis.com', 'p1', 'us-central1', 'endpoints/1234567890', 'generateContent')).toBe(
      'https://us-central1-aiplatform.googleapis.com/v1/projects/p1/locations/us-central1/endpoints/1234567890:generateContent',
    );
  });
});

let fake: FakeVertex;

beforeAll(async () => {
  fake = await FakeVertex.start();
});
afterAll(async () => {
  await closeTransport();
  await fake.close();
});
beforeEach(() => fake.reset());

function adapter(options: Partial<VertexAdapterOptions> = {}): VertexAdapter {
  return new VertexAdapter({ id: 'vx', project: fake.project, location: fake.location, baseUrl: fake.url, credentials: { kind: 'json', text: fake.keyJson }, headers: {}, ...options });
}

function context(model = 'gemini-2.5-flash'): AttemptContext & { firstBytes: number } {
  const ctx = { upstreamModel: model, signal: new AbortController().signal, requestId: 'req-1', firstBytes: 0, firstByte: () => void ctx.firstBytes++ };
  return ctx;
}

const request = (extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'group', messages: [{ role: 'user', content: 'Hi' }], ...extra });

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a failure');
}

async function drain(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const modelPath = (model: string, method: string): string => `/v1/projects/${fake.project}/locations/${fake.location}/publishers/google/models/${model}:${method}`;

describe('VertexAdapter', () => {
  it('posts the Gemini body to :generateContent with the bearer token and configured headers; one token for several calls', async () => {
    fake.enqueue({ kind: 'reply', text: 'Bonjour.', finish: 'stop', usage: { input: 5, output: 2 } });
    const vx = adapter({ headers: { 'X-Team': 'search' } });
    const ctx = context();
    const completion = await vx.chat(request({ messages: [{ role: 'system', content: 'French.' }, { role: 'user', content: 'Hello' }] }), ctx);
    expect(completion.choices[0]!.message.content).toBe('Bonjour.');
    expect(completion.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 2 });
    expect(ctx.firstBytes).toBe(1);

    const call = fake.calls.at(-1)!;
    expect(call.url).toBe(modelPath('gemini-2.5-flash', 'generateContent'));
    expect(call.headers.authorization).toBe(`Bearer ${fake.tokenRequests[0]!.token}`);
    expect(call.headers['x-team']).toBe('search');
    expect(call.headers['x-goog-api-key']).toBeUndefined();
    expect(fake.lastChatBody()).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Hello' }] }], systemInstruction: { parts: [{ text: 'French.' }] } });

    await vx.chat(request(), context());
    await drain(await vx.chatStream(request(), context()));
    expect(fake.tokenRequests).toHaveLength(1);
    expect(new Set(fake.bearerTokens()).size).toBe(1);
  });

  it('streams from :streamGenerateContent?alt=sse', async () => {
    fake.enqueue({ kind: 'reply', text: 'one two three', finish: 'stop', usage: { input: 3, output: 3 } });
    const chunks = await drain(await adapter().chatStream(request(), context()));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('one two three');
    expect(fake.calls.at(-1)!.url).toBe(`${modelPath('gemini-2.5-flash', 'streamGenerateContent')}?alt=sse`);
  });

  it('a 401 drops the cached token: the next call fetches a new one and succeeds', async () => {
    const vx = adapter();
    await vx.chat(request(), context());
    fake.revokeTokens();
    const err = await failure(vx.chat(request(), context()));
    expect(err.status).toBe(502);
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/refused the gateway's credentials \(HTTP 401\).*credentials_file \/ credentials_json/);
    const answer = await vx.chat(request(), context());
    expect(answer.choices[0]!.message.content).toMatch(/\S/);
    expect(fake.tokenRequests).toHaveLength(2);
    const [first, second, third] = fake.bearerTokens();
    expect(second).toBe(first);
    expect(third).not.toBe(first);
  });

  it('a 401 on a stream drops the token too', async () => {
    const vx = adapter();
    await vx.chat(request(), context());
    fake.revokeTokens();
    await failure(vx.chatStream(request(), context()));
    await drain(await vx.chatStream(request(), context()));
    expect(fake.tokenRequests).toHaveLength(2);
  });

  it('a 403 keeps the token (it is the account\'s permission, not the token) and names the credentials', async () => {
    const vx = adapter({ project: 'someone-elses-project' });
    const err = await failure(vx.chat(request(), context()));
    expect(err.status).toBe(502);
    expect(err.message).toContain("Permission 'aiplatform.endpoints.predict' denied");
    await failure(vx.chat(request(), context()));
    expect(fake.tokenRequests).toHaveLength(1);
  });

  it('Vertex errors keep their meaning: 404 model, 429 without a retry hint', async () => {
    const notFound = await failure(adapter().chat(request(), context('gemini-0-nonexistent')));
    expect(notFound.status).toBe(404);
    expect(notFound.message).toContain('Publisher Model');
    fake.enqueue({ kind: 'http-error', errorClass: 'rate_limit', message: 'Resource exhausted. Please try again later.' });
    const limited = await failure(adapter().chat(request(), context()));
    expect(limited.status).toBe(429);
    expect(limited.retryAfterMs).toBeUndefined();
  });

  it('no credentials: 502 naming what to set, and neither the token endpoint nor Vertex is called', async () => {
    const err = await failure(adapter({ credentials: undefined }).chat(request(), context()));
    expect(err.status).toBe(502);
    expect(err.message).toContain('GOOGLE_APPLICATION_CREDENTIALS');
    await failure(adapter({ credentials: undefined }).chatStream(request(), context()));
    expect(fake.calls).toHaveLength(0);
  });

  it('a request the translator refuses is a 400 without fetching a token', async () => {
    const messages: ChatRequest['messages'] = [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{city: Paris}' } }] },
    ];
    const err = await failure(adapter().chat(request({ messages }), context()));
    expect(err.status).toBe(400);
    expect(fake.calls).toHaveLength(0);
  });

  describe('embeddings through :predict', () => {
    it('text-embedding models take the texts in one call, with dimensions; usage is Google\'s token count', async () => {
      const answer = await adapter().embeddings({ model: 'e', input: ['alpha beta', 'gamma'], dimensions: 4 }, context('text-embedding-005'));
      expect(answer.data.map((d) => d.embedding)).toEqual([embeddingValues('alpha beta', 4), embeddingValues('gamma', 4)]);
      expect(answer.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
      expect(fake.calls.map((c) => c.url)).toEqual(['/token', modelPath('text-embedding-005', 'predict')]);
      expect(fake.calls[1]!.body).toEqual({ instances: [{ content: 'alpha beta' }, { content: 'gamma' }], parameters: { outputDimensionality: 4 } });
    });

    it('more than 250 texts are split into calls of 250, vectors kept in order', async () => {
      const inputs = Array.from({ length: 251 }, (_, i) => `text ${i}`);
      const answer = await adapter().embeddings({ model: 'e', input: inputs }, context('text-embedding-005'));
      expect(answer.data).toHaveLength(251);
      expect(answer.data[250]).toEqual({ object: 'embedding', index: 250, embedding: embeddingValues('text 250', 8) });
      const sizes = fake.calls.filter((c) => c.url.endsWith(':predict')).map((c) => (c.body as { instances: unknown[] }).instances.length);
      expect(sizes.sort((a, b) => a - b)).toEqual([1, 250]);
      expect(fake.calls[1]!.body).not.toHaveProperty('parameters');
    });

    it('gemini-embedding models take one text per call', async () => {
      const answer = await adapter().embeddings({ model: 'e', input: ['a', 'b b', 'c'], encoding_format: 'base64' }, context('gemini-embedding-001'));
      expect(fake.calls.filter((c) => c.url.endsWith(':predict'))).toHaveLength(3);
      const first = Buffer.from(answer.data[0]!.embedding as string, 'base64');
      expect(first.readFloatLE(0)).toBeCloseTo(embeddingValues('a', 8)[0]!, 6);
      expect(answer.usage.prompt_tokens).toBe(4);
    });

    it('token arrays are a 400 before any call', async () => {
      const err = await failure(adapter().embeddings({ model: 'e', input: [[1, 2, 3]] as unknown as string[] }, context('text-embedding-005')));
      expect(err.status).toBe(400);
      expect(err.param).toBe('input');
      expect(fake.calls).toHaveLength(0);
    });
  });
});
