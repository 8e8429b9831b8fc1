/**
 * The OpenAI API surface through the gateway with the official OpenAI SDK, against a fake OpenAI
 * upstream: chat via `type: openai` and `type: openai-compatible` providers, streaming, n, tools,
 * response_format, images, include_usage, unknown fields, embeddings (float and base64), the
 * models list, direct addressing, failover, and the response headers.
 */
import { APIError, type OpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeOpenAI, OPENAI_ERRORS } from '../fakes/openai-upstream.js';
import { embeddingVector } from '../fakes/openai-wire.js';
import { raw, sdk, collect, type Chunk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

let fake: FakeOpenAI;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  fake = await FakeOpenAI.start({ apiKeys: ['sk-upstream-oai', 'sk-upstream-compat'] });
  gateway = await startGateway(`
providers:
  oai: { type: openai, base_url: ${fake.baseURL}, api_key: sk-upstream-oai }
  compat: { type: openai-compatible, base_url: ${fake.baseURL}, api_key: sk-upstream-compat }
models:
  gpt: { targets: [ { provider: oai, model: gpt-4o-mini } ] }
  llama: { targets: [ { provider: compat, model: llama-3.1-8b-instruct } ] }
  embed: { targets: [ { provider: oai, model: text-embedding-3-small } ] }
  ha:
    targets:
      - { provider: oai, model: gpt-4o }
      - { provider: compat, model: llama-3.1-8b-instruct }
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



function contentOf(chunks: Chunk[], index = 0): string {
  return chunks.flatMap((c) => c.choices.filter((choice) => choice.index === index).map((choice) => choice.delta.content ?? '')).join('');
}

function upstreamBody(): Record<string, unknown> {
  return fake.lastRequest().body as Record<string, unknown>;
}

describe('type: openai provider', () => {
  it('answers a non-streaming chat with OpenAI\'s chat.completion object and the gateway headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt', messages: [{ role: 'user', content: 'Say hi' }] })
      .withResponse();

    expect(data.object).toBe('chat.completion');
    expect(data.id).toMatch(/^chatcmpl-fake/);
    expect(data.model).toBe('gpt-4o-mini');
    expect(data.system_fingerprint).toBe('fp_fake0e2e');
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Hello from gpt-4o-mini. You said: Say hi', refusal: null });
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 });
    expect(data.usage!.prompt_tokens_details).toEqual({ cached_tokens: 0, audio_tokens: 0 });
    expect(data.usage!.completion_tokens_details).toMatchObject({ reasoning_tokens: 0 });

    expect(response.status).toBe(200);
    expect(response.headers.get('x-switchyard-provider')).toBe('oai');
    expect(response.headers.get('x-switchyard-model')).toBe('gpt-4o-mini');
    expect(response.headers.get('x-switchyard-attempts')).toBe('1');

    // Upstream: the group name became the upstream model; the provider's key, not the client's.
    const sent = fake.lastRequest();
    expect(sent.method).toBe('POST');
    expect(sent.body).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hi' }] });
    expect(sent.headers.authorization).toBe('Bearer sk-upstream-oai');
    expect(sent.headers['x-request-id']).toBe(response.headers.get('x-request-id'));
  });

  it('streams chunks; without include_usage the client gets no usage although upstream was asked', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt', messages: [{ role: 'user', content: 'Stream please' }], stream: true })
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-switchyard-provider')).toBe('oai');
    const chunks = await collect(stream);

    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) {
      expect(chunk.object).toBe('chat.completion.chunk');
      expect(chunk.model).toBe('gpt-4o-mini');
      expect('usage' in chunk).toBe(false);
      expect(chunk.choices).toHaveLength(1);
    }
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(contentOf(chunks)).toBe('Hello from gpt-4o-mini. You said: Stream please');

    const body = upstreamBody();
    expect(body.stream).toBe(true);
    expect(body.stream_options).toEqual({ include_usage: true });
    expect(body.model).toBe('gpt-4o-mini');
  });

  it('streams a final usage chunk (choices: []) when the client asked for include_usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt',
      messages: [{ role: 'user', content: 'Count my tokens' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 8, total_tokens: 18 });
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
    expect(contentOf(chunks)).toBe('Hello from gpt-4o-mini. You said: Count my tokens');
    expect(upstreamBody().stream_options).toEqual({ include_usage: true });
  });

  it('returns n choices, streaming and not', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'Pick' }], n: 3 });
    expect(completion.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(completion.choices.map((c) => c.message.content)).toEqual([0, 1, 2].map((i) => `Hello from gpt-4o-mini. You said: Pick (choice ${i})`));
    expect(upstreamBody().n).toBe(3);

    const chunks = await collect(await client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'Pick' }], n: 2, stream: true }));
    expect(contentOf(chunks, 0)).toBe('Hello from gpt-4o-mini. You said: Pick (choice 0)');
    expect(contentOf(chunks, 1)).toBe('Hello from gpt-4o-mini. You said: Pick (choice 1)');
  });

  const weatherTool: OpenAI.Chat.Completions.ChatCompletionTool = {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather for a city',
      parameters: {
        type: 'object',
        properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
        required: ['location', 'unit'],
        additionalProperties: false,
      },
      strict: true,
    },
  };

  it('returns tool_calls and accepts the follow-up turn with role: tool messages', async () => {
    const first = await client.chat.completions.create({
      model: 'gpt',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weatherTool],
      tool_choice: 'auto',
    });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0]!;
    expect(call.type).toBe('function');
    if (call.type !== 'function') throw new Error('expected a function tool call');
    expect(call.id).toMatch(/^call_/);
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'celsius' });
    expect(upstreamBody().tools).toEqual([weatherTool]);
    expect(upstreamBody().tool_choice).toBe('auto');

    const followUp: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: call.id, type: 'function', function: { name: 'get_weather', arguments: call.function.arguments } }] },
      { role: 'tool', tool_call_id: call.id, content: '{"temperature":21}' },
    ];
    const second = await client.chat.completions.create({ model: 'gpt', messages: followUp, tools: [weatherTool] });
    expect(second.choices[0]!.finish_reason).toBe('stop');
    expect(second.choices[0]!.message.content).toBe(`The tool ${call.id} returned: {"temperature":21}`);
    expect(upstreamBody().messages).toEqual(followUp);
  });

  it('streams tool_call argument deltas that concatenate to the arguments', async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'gpt',
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [weatherTool],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        stream: true,
      }),
    );
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(deltas[0]!.id).toMatch(/^call_/);
    expect(deltas.length).toBeGreaterThan(2);
    expect(JSON.parse(deltas.map((d) => d.function?.arguments ?? '').join(''))).toEqual({ location: 'Paris', unit: 'celsius' });
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('passes response_format json_object and json_schema upstream and returns the JSON', async () => {
    const asObject = await client.chat.completions.create({
      model: 'gpt',
      messages: [{ role: 'user', content: 'Answer in JSON' }],
      response_format: { type: 'json_object' },
    });
    expect(JSON.parse(asObject.choices[0]!.message.content!)).toEqual({ reply: 'Hello from gpt-4o-mini. You said: Answer in JSON' });
    expect(upstreamBody().response_format).toEqual({ type: 'json_object' });

    const format: OpenAI.ResponseFormatJSONSchema = {
      type: 'json_schema',
      json_schema: {
        name: 'city',
        strict: true,
        schema: { type: 'object', properties: { name: { type: 'string' }, population: { type: 'integer' } }, required: ['name', 'population'], additionalProperties: false },
      },
    };
    const asSchema = await client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'A city' }], response_format: format });
    expect(JSON.parse(asSchema.choices[0]!.message.content!)).toEqual({ name: 'fake', population: 42 });
    expect(upstreamBody().response_format).toEqual(format);
  });

  it('passes image content parts upstream untouched', async () => {
    const content: OpenAI.Chat.Completions.ChatCompletionContentPart[] = [
      { type: 'text', text: 'What is in this image?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', detail: 'low' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
    ];
    const completion = await client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content }] });
    expect(completion.choices[0]!.message.content).toBe('Hello from gpt-4o-mini. You said: What is in this image? [2 image(s) received]');
    expect(upstreamBody().messages).toEqual([{ role: 'user', content }]);
  });

  it('passes unknown request fields through untouched, and unknown response fields back', async () => {
    const extra = {
      x_vendor_option: { nested: [1, 'two', null, { deep: true }], empty: {} },
      seed: 7,
      logit_bias: { '50256': -100 },
      metadata: { team: 'e2e' },
      store: false,
    };
    const params = { model: 'gpt', messages: [{ role: 'user' as const, content: 'Unknown fields' }], temperature: 0.2, ...extra };
    const completion = await client.chat.completions.create(params);
    expect(upstreamBody()).toEqual({ ...params, model: 'gpt-4o-mini' });
    expect((completion as unknown as Record<string, unknown>).service_tier).toBe('default');
  });

  it('sends the request as the client wrote it, only the model changed: numbers JSON.parse would round keep every digit', async () => {
    const body = '{\n  "messages": [ { "role": "user", "content": "Exact \\"bytes\\" \\u00e9" } ],\n  "seed": 9007199254740993,\n  "temperature": 1.0,\n  "model": "gpt"\n}';
    const res = await raw(gateway, '/v1/chat/completions', { body, headers: { authorization: 'Bearer sk-client' } });
    expect(res.status).toBe(200);
    expect(fake.lastRequest().rawBody).toBe(body.replace('"model": "gpt"', '"model": "gpt-4o-mini"'));
  });
});

describe('type: openai-compatible provider', () => {
  it('answers non-streaming and streaming chats with its own key and upstream model', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'llama', messages: [{ role: 'user', content: 'Hi llama' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Hello from llama-3.1-8b-instruct. You said: Hi llama');
    expect(response.headers.get('x-switchyard-provider')).toBe('compat');
    expect(response.headers.get('x-switchyard-model')).toBe('llama-3.1-8b-instruct');
    expect(fake.lastRequest().headers.authorization).toBe('Bearer sk-upstream-compat');
    expect(upstreamBody().model).toBe('llama-3.1-8b-instruct');

    const chunks = await collect(
      await client.chat.completions.create({ model: 'llama', messages: [{ role: 'user', content: 'Hi llama' }], stream: true, stream_options: { include_usage: true } }),
    );
    expect(contentOf(chunks)).toBe('Hello from llama-3.1-8b-instruct. You said: Hi llama');
    expect(chunks.at(-1)!.usage?.total_tokens).toBeGreaterThan(0);
    expect(upstreamBody().stream_options).toEqual({ include_usage: true });
  });
});

describe('embeddings', () => {
  it('returns float embeddings from the upstream, with the upstream model name swapped in', async () => {
    const { data, response } = await client.embeddings
      .create({ model: 'embed', input: ['first text', 'second text'], encoding_format: 'float' })
      .withResponse();
    expect(data.object).toBe('list');
    expect(data.model).toBe('text-embedding-3-small');
    expect(data.data.map((d) => [d.object, d.index])).toEqual([['embedding', 0], ['embedding', 1]]);
    expect(data.data[0]!.embedding).toEqual(embeddingVector('first text', 8));
    expect(data.data[1]!.embedding).toEqual(embeddingVector('second text', 8));
    expect(data.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    expect(response.headers.get('x-switchyard-provider')).toBe('oai');
    expect(fake.lastRequest('/v1/embeddings').body).toEqual({ model: 'text-embedding-3-small', input: ['first text', 'second text'], encoding_format: 'float' });
  });

  it('passes base64 embeddings through as base64 (and the SDK default decodes them)', async () => {
    const encoded = await client.embeddings.create({ model: 'embed', input: 'some text', encoding_format: 'base64', dimensions: 16 });
    const text = encoded.data[0]!.embedding as unknown as string;
    expect(typeof text).toBe('string');
    const bytes = Buffer.from(text, 'base64');
    expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4))).toEqual(embeddingVector('some text', 16));
    expect(fake.lastRequest('/v1/embeddings').body).toMatchObject({ encoding_format: 'base64', dimensions: 16 });

    // Without encoding_format the SDK asks for base64 and decodes it to floats.
    const decoded = await client.embeddings.create({ model: 'embed', input: 'some text' });
    expect(Array.from(decoded.data[0]!.embedding)).toEqual(embeddingVector('some text', 8));
    expect(fake.lastRequest('/v1/embeddings').body).toMatchObject({ encoding_format: 'base64' });
  });
});

describe('model addressing', () => {
  it('lists the configured groups with models.list() and retrieves one', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) {
      expect(model.object).toBe('model');
      ids.push(model.id);
    }
    expect(ids).toEqual(['gpt', 'llama', 'embed', 'ha']);
    const one = await client.models.retrieve('llama');
    expect(one.id).toBe('llama');
  });

  it('addresses a provider directly as <provider-id>/<model>', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'oai/gpt-4o', messages: [{ role: 'user', content: 'Direct' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Hello from gpt-4o. You said: Direct');
    expect(response.headers.get('x-switchyard-provider')).toBe('oai');
    expect(response.headers.get('x-switchyard-model')).toBe('gpt-4o');
    expect(upstreamBody().model).toBe('gpt-4o');

    const chunks = await collect(await client.chat.completions.create({ model: 'compat/llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'Direct' }], stream: true }));
    expect(contentOf(chunks)).toBe('Hello from llama-3.1-8b-instruct. You said: Direct');
  });

  it('fails over to the second target when the first answers 500 (x-switchyard-attempts: 2)', async () => {
    fake.inject({ kind: 'http-error', error: OPENAI_ERRORS.serverError() }, { model: 'gpt-4o' });
    const { data, response } = await client.chat.completions.create({ model: 'ha', messages: [{ role: 'user', content: 'Failover' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Hello from llama-3.1-8b-instruct. You said: Failover');
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    expect(response.headers.get('x-switchyard-provider')).toBe('compat');
    expect(response.headers.get('x-switchyard-model')).toBe('llama-3.1-8b-instruct');
    expect(fake.requestsTo('/v1/chat/completions').map((r) => (r.body as { model: string }).model)).toEqual(['gpt-4o', 'llama-3.1-8b-instruct']);
  });

  it('fails over a stream whose first target fails before the first chunk', async () => {
    fake.inject({ kind: 'http-error', error: OPENAI_ERRORS.overloaded() }, { model: 'gpt-4o' });
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'ha', messages: [{ role: 'user', content: 'Stream failover' }], stream: true })
      .withResponse();
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    expect(response.headers.get('x-switchyard-provider')).toBe('compat');
    expect(contentOf(await collect(stream))).toBe('Hello from llama-3.1-8b-instruct. You said: Stream failover');
  });

  it('answers 502 when every target of a group failed', async () => {
    fake.inject({ kind: 'http-error', error: OPENAI_ERRORS.serverError() }, { times: 2 });
    const error = await client.chat.completions.create({ model: 'ha', messages: [{ role: 'user', content: 'All fail' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(502);
    expect((error as APIError).headers?.get('x-switchyard-attempts')).toBe('2');
    expect(fake.requestsTo('/v1/chat/completions')).toHaveLength(2);
  });
});

describe('request ids and the open gateway', () => {
  it('echoes a client x-request-id (to the client and upstream) and generates one otherwise', async () => {
    const given = await client.chat.completions
      .create({ model: 'gpt', messages: [{ role: 'user', content: 'id' }] }, { headers: { 'x-request-id': 'e2e-req-0001' } })
      .withResponse();
    expect(given.response.headers.get('x-request-id')).toBe('e2e-req-0001');
    expect(given.request_id).toBe('e2e-req-0001');
    expect(fake.lastRequest().headers['x-request-id']).toBe('e2e-req-0001');

    const a = await client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'id' }] }).withResponse();
    const b = await client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'id' }] }).withResponse();
    const idA = a.response.headers.get('x-request-id');
    const idB = b.response.headers.get('x-request-id');
    expect(idA).toMatch(/^[0-9a-f-]{36}$/);
    expect(idB).toMatch(/^[0-9a-f-]{36}$/);
    expect(idA).not.toBe(idB);
  });

  it('runs open without a master key: a request with no key at all is served', async () => {
    const res = await raw(gateway, '/v1/chat/completions', { body: JSON.stringify({ model: 'gpt', messages: [{ role: 'user', content: 'open' }] }) });
    expect(res.status).toBe(200);
    expect((res.json as OpenAI.Chat.Completions.ChatCompletion).choices[0]!.message.content).toBe('Hello from gpt-4o-mini. You said: open');
    expect(gateway.stderr()).toContain('auth             OFF');
  });
});
