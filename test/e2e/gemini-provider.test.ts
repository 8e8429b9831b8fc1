/**
 * The `gemini` provider through the gateway with the official OpenAI SDK, against the fake Gemini
 * API, for what the shared conformance suite does not cover: Gemini's URLs and key header, the
 * request fields only Gemini has (systemInstruction, thinkingConfig, responseJsonSchema, fileData),
 * thought signatures across a tool round trip, blocked prompts, truncated and garbled streams,
 * and embeddings (embedContent, batchEmbedContents, dimensions, base64).
 */
import { BadRequestError, type OpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeGemini } from '../fakes/gemini-upstream.js';
import { embeddingValues } from '../fakes/gemini-wire.js';
import { raw, sdk, collect, apiError as failure, type Chunk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

let fake: FakeGemini;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  fake = await FakeGemini.start();
  gateway = await startGateway(`
providers:
  gem: ${JSON.stringify(fake.providerConfig())}
models:
  flash: { targets: [ { provider: gem, model: gemini-2.5-flash } ] }
  pro3: { targets: [ { provider: gem, model: gemini-3-pro-preview } ] }
  embed: { targets: [ { provider: gem, model: gemini-embedding-001 } ] }
# One attempt per target: these tests check how a single failure is answered.
routing: { retry: { max_retries: 0 } }
`);
  client = sdk(gateway);
});

afterAll(async () => {
  await stopAllGateways();
  await fake?.close();
});

beforeEach(() => fake.reset());




const sse = (...events: unknown[]): string => events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join('');
const json = (value: unknown) => ({ kind: 'raw' as const, status: 200, contentType: 'application/json; charset=UTF-8', body: JSON.stringify(value) });
const SIGNATURE = 'CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbdMdfpmNpgBwplAXLI2nyA';

describe('gemini provider: the wire', () => {
  it('posts to models/{model}:generateContent with x-goog-api-key, system as systemInstruction', async () => {
    fake.enqueue({ kind: 'reply', text: 'Bonjour.', finish: 'stop', usage: { input: 10, output: 2 } });
    const completion = await client.chat.completions.create({
      model: 'flash',
      messages: [
        { role: 'system', content: 'Answer in French.' },
        { role: 'user', content: 'Hello' },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe('Bonjour.');
    expect(completion.model).toBe('gemini-2.5-flash');
    const call = fake.calls.at(-1)!;
    expect(call.url).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(call.headers['x-goog-api-key']).toBe(fake.providerConfig().api_key);
    expect(call.headers.authorization).toBeUndefined();
    expect(fake.lastChatBody()).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Hello' }] }], systemInstruction: { parts: [{ text: 'Answer in French.' }] } });
  });

  it('refuses a directly addressed model with ".." before anything is sent (it would leave the base path with the key)', async () => {
    for (const model of ['gem/../../elsewhere/x', 'gem/models/..']) {
      const error = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
      expect(error, model).toBeInstanceOf(BadRequestError);
      const embedding = await client.embeddings.create({ model, input: 'x' }).catch((e: unknown) => e);
      expect(embedding, model).toBeInstanceOf(BadRequestError);
    }
    expect(fake.calls).toHaveLength(0);
  });

  it('streams from :streamGenerateContent?alt=sse', async () => {
    fake.enqueue({ kind: 'reply', text: 'one two three four', finish: 'stop', usage: { input: 3, output: 4 } });
    const chunks = await collect(await client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'Count' }], stream: true }));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('one two three four');
    expect(fake.calls.at(-1)!.url).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  });

  it('maps reasoning_effort to a thinking budget (2.5) or level (3), and json_schema to responseJsonSchema', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    fake.enqueue({ kind: 'reply', text: '{"city":"Paris"}', finish: 'stop', usage: { input: 3, output: 4 } });
    await client.chat.completions.create({
      model: 'flash',
      messages: [{ role: 'user', content: 'City?' }],
      reasoning_effort: 'low',
      response_format: { type: 'json_schema', json_schema: { name: 'city', schema, strict: true } },
    });
    expect(fake.lastChatBody().generationConfig).toEqual({ responseMimeType: 'application/json', responseJsonSchema: schema, thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } });

    await client.chat.completions.create({ model: 'pro3', messages: [{ role: 'user', content: 'Think hard' }], reasoning_effort: 'high' });
    expect(fake.lastChatBody().generationConfig).toEqual({ thinkingConfig: { thinkingLevel: 'high', includeThoughts: true } });
  });

  it('sends an http image URL as fileData with its MIME type', async () => {
    await client.chat.completions.create({
      model: 'flash',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'https://example.com/img/cat.png' } }] }],
    });
    expect(fake.lastChatBody().contents![0]!.parts).toEqual([{ text: 'What is this?' }, { fileData: { mimeType: 'image/png', fileUri: 'https://example.com/img/cat.png' } }]);
  });

  it('refuses tool call arguments that are not JSON with a 400 naming the field, without calling Gemini', async () => {
    const err = await failure(() =>
      client.chat.completions.create({
        model: 'flash',
        messages: [
          { role: 'user', content: 'Weather?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{city: Paris}' } }] },
          { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
        ],
      }),
    );
    expect(err.status).toBe(400);
    expect(err.param).toBe('messages[1].tool_calls[0].function.arguments');
    expect(fake.chatRequestCount()).toBe(0);
  });
});

describe('gemini provider: thought signatures', () => {
  it('returns a function call\'s thought signature and sends it back with the call on the next turn', async () => {
    fake.enqueue(
      json({
        candidates: [{ content: { parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: SIGNATURE }], role: 'model' }, finishReason: 'STOP', index: 0 }],
        usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 5, totalTokenCount: 45, thoughtsTokenCount: 20 },
        modelVersion: 'gemini-2.5-flash',
        responseId: 'sigResp01',
      }),
    );
    const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const first = await client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools });
    const message = first.choices[0]!.message;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(first.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 25, completion_tokens_details: { reasoning_tokens: 20 } });
    const call = message.tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall & { extra_content?: unknown };
    expect(call.extra_content).toEqual({ google: { thought_signature: SIGNATURE } });

    // The client sends the assistant message back as it got it, then the tool result.
    await client.chat.completions.create({ model: 'flash', tools, messages: [{ role: 'user', content: 'Weather in Paris?' }, message, { role: 'tool', tool_call_id: call.id, content: '{"temp": 18}' }] });
    const contents = fake.lastChatBody().contents!;
    expect(contents[1]).toEqual({ role: 'model', parts: [{ functionCall: { id: call.id, name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: SIGNATURE }] });
    expect(contents[2]).toEqual({ role: 'user', parts: [{ functionResponse: { id: call.id, name: 'get_weather', response: { temp: 18 } } }] });
  });
});

describe('gemini provider: blocked and broken answers', () => {
  const blocked = { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 }, modelVersion: 'gemini-2.5-flash', responseId: 'blocked01' };

  it('answers a blocked prompt with finish_reason content_filter and the reason as refusal', async () => {
    fake.enqueue(json(blocked));
    const completion = await client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'Something bad' }] });
    expect(completion.choices[0]!.finish_reason).toBe('content_filter');
    expect(completion.choices[0]!.message.content).toBe('');
    expect(completion.choices[0]!.message.refusal).toContain('PROHIBITED_CONTENT');
    expect((completion.choices[0] as unknown as { native_finish_reason?: string }).native_finish_reason).toBe('PROHIBITED_CONTENT');

    fake.enqueue({ kind: 'raw', status: 200, body: sse(blocked) });
    const chunks = await collect(await client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'Something bad' }], stream: true }));
    expect(chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter(Boolean)).toEqual(['content_filter']);
    expect(chunks[0]!.choices[0]!.delta.refusal).toContain('PROHIBITED_CONTENT');
  });

  it('ends a stream that stopped without a finishReason with an error event after the text', async () => {
    fake.enqueue({ kind: 'raw', status: 200, body: sse({ candidates: [{ content: { parts: [{ text: 'Half an ans' }], role: 'model' }, index: 0 }], responseId: 'cut01' }) });
    const received: Chunk[] = [];
    const err = await failure(async () => {
      for await (const chunk of await client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'Go' }], stream: true })) received.push(chunk);
    });
    expect(received.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Half an ans');
    expect(err.message).toContain('before it was complete');
  });

  it('answers 502 for a garbled 200 answer, streamed or not', async () => {
    fake.enqueue({ kind: 'raw', status: 200, contentType: 'application/json', body: '<html>upstream proxy error</html>' });
    const plain = await failure(() => client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'Go' }] }));
    expect(plain.status).toBe(502);
    fake.enqueue({ kind: 'raw', status: 200, body: 'data: {"candidates": [{"content": \r\n\r\n' });
    const streamed = await failure(() => client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'Go' }], stream: true }));
    expect(streamed.status).toBe(502);
    expect(streamed.message).toContain('not valid JSON');
  });
});

describe('gemini provider: embeddings', () => {
  it('embeds one input with :embedContent and several with :batchEmbedContents, dimensions → outputDimensionality', async () => {
    const one = await client.embeddings.create({ model: 'embed', input: 'Hello world', encoding_format: 'float' });
    expect(one.data).toEqual([{ object: 'embedding', index: 0, embedding: embeddingValues('Hello world', 8) }]);
    expect(one.model).toBe('gemini-embedding-001');
    expect(one.usage.prompt_tokens).toBeGreaterThan(0);
    expect(fake.calls.at(-1)!.url).toBe('/v1beta/models/gemini-embedding-001:embedContent');

    const many = await client.embeddings.create({ model: 'embed', input: ['alpha', 'beta'], dimensions: 4, encoding_format: 'float' });
    expect(many.data.map((d) => d.embedding)).toEqual([embeddingValues('alpha', 4), embeddingValues('beta', 4)]);
    const call = fake.calls.at(-1)!;
    expect(call.url).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
    expect(call.body).toEqual({
      requests: [
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'alpha' }] }, outputDimensionality: 4 },
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'beta' }] }, outputDimensionality: 4 },
      ],
    });
  });

  it('encodes base64 as OpenAI does (the SDK\'s default) and splits more than 100 inputs into batches', async () => {
    const inputs = Array.from({ length: 150 }, (_, i) => `text ${i}`);
    const result = await client.embeddings.create({ model: 'embed', input: inputs });
    expect(result.data).toHaveLength(150);
    // The SDK asked for base64 and decoded it back to floats.
    expect(result.data[149]!.embedding).toEqual(embeddingValues('text 149', 8).map((v) => Math.fround(v)));
    // The two batches run concurrently, so they may arrive in either order.
    expect(fake.calls.map((c) => (c.body as { requests: unknown[] }).requests.length).sort((a, b) => b - a)).toEqual([100, 50]);
  });

  it('refuses token-array input with a 400', async () => {
    const res = await raw(gateway, '/v1/embeddings', { body: JSON.stringify({ model: 'embed', input: [[1, 2, 3]] }) });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: { param: 'input' } });
    expect(fake.calls).toHaveLength(0);
  });
});
