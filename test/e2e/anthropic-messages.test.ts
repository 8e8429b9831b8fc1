/**
 * Anthropic's Messages API (`/v1/messages`, `/v1/messages/count_tokens`) through the gateway with
 * the official `@anthropic-ai/sdk`, served by model groups behind an OpenAI target (the fake
 * OpenAI upstream), the built-in mock provider, an Anthropic target (the fake Anthropic
 * upstream, served natively: request and answer passed through) and a Gemini target (the fake
 * Gemini API): create, stream() helpers, tools, images, stop sequences, usage, token counting,
 * failover between native and canonical targets, errors in Anthropic's shape and the response headers.
 */
import Anthropic, { APIError, AuthenticationError, BadRequestError, ContentTooLargeError, InternalServerError, NotFoundError, RateLimitError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { FakeAnthropic, fakeTokenCount } from '../fakes/anthropic-upstream.js';
import { FakeBedrock } from '../fakes/bedrock-upstream.js';
import { FakeGemini } from '../fakes/gemini-upstream.js';
import { FakeOpenAI, OPENAI_ERRORS } from '../fakes/openai-upstream.js';
import { raw } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

const MASTER_KEY = 'sk-master-anthropic-e2e';

let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let gemini: FakeGemini;
let bedrock: FakeBedrock;
let gateway: Gateway;
let client: Anthropic;

beforeAll(async () => {
  [openai, anthropic, gemini, bedrock] = await Promise.all([FakeOpenAI.start({ apiKeys: ['sk-upstream-oai'] }), FakeAnthropic.start(), FakeGemini.start(), FakeBedrock.start()]);
  gateway = await startGateway(`
server: { body_limit: 64kb }
auth: { master_key: ${MASTER_KEY} }
providers:
  oai: { type: openai, base_url: ${openai.baseURL}, api_key: sk-upstream-oai }
  demo: { type: mock }
  claude: { type: anthropic, base_url: ${anthropic.url}, api_key: ${anthropic.apiKey} }
  google: ${JSON.stringify(gemini.providerConfig())}
  aws: ${JSON.stringify(bedrock.providerConfig())}
models:
  gpt: { targets: [ { provider: oai, model: gpt-4o-mini } ] }
  mock: { targets: [ { provider: demo, model: mock-1 } ] }
  sonnet: { targets: [ { provider: claude, model: ${anthropic.model} } ] }
  flash: { targets: [ { provider: google, model: ${gemini.model} } ] }
  nova: { targets: [ { provider: aws, model: "${bedrock.model}" } ] }
  claude-or-gpt: { targets: [ { provider: claude, model: ${anthropic.model} }, { provider: oai, model: gpt-4o-mini } ] }
  claude-or-mock: { targets: [ { provider: claude, model: ${anthropic.model} }, { provider: demo, model: mock-1 } ] }
# One attempt per target: these tests check how a single failure is answered.
routing: { retry: { max_retries: 0 } }
`);
  client = messagesClient(MASTER_KEY);
});

afterAll(async () => {
  await stopAllGateways();
  await Promise.all([openai?.close(), anthropic?.close(), gemini?.close(), bedrock?.close()]);
});

beforeEach(() => {
  openai.reset();
  anthropic.reset();
  gemini.reset();
  bedrock.reset();
});

/** The SDK as an app configures it: base URL without /v1 (the SDK appends /v1/messages), no retries. */
function messagesClient(apiKey: string): Anthropic {
  return new Anthropic({ baseURL: gateway.url, apiKey, maxRetries: 0, timeout: 15_000 });
}

function upstreamBody(): Record<string, unknown> {
  return openai.lastRequest().body as Record<string, unknown>;
}

function textOf(message: Anthropic.Message): string {
  return message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
}

const weatherTool: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Get the current weather in a given location',
  input_schema: {
    type: 'object',
    properties: {
      location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
      unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    },
    required: ['location', 'unit'],
  },
};

/** Awaits a call that must fail with an SDK APIError of `type` and `status`; checks Anthropic's error shape. */
async function failure<T extends APIError>(call: Promise<unknown>, type: abstract new (...args: never[]) => T, status: number, errorType: string): Promise<T> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof APIError)) throw new Error(`expected an APIError, got ${String(error)}`);
  expect(error).toBeInstanceOf(type);
  expect(error.status).toBe(status);
  expect(error.type).toBe(errorType);
  const body = error.error as { type: string; error: { type: string; message: string }; request_id: string };
  expect(body.type).toBe('error');
  expect(body.error.type).toBe(errorType);
  expect(body.error.message).not.toBe('');
  // The SDK's requestID is the gateway's request id, in the body too.
  const requestId = error.headers?.get('x-request-id');
  expect(requestId).toBeTruthy();
  expect(error.requestID).toBe(requestId);
  expect(body.request_id).toBe(requestId);
  return error as T;
}

describe('an OpenAI target behind /v1/messages', () => {
  it('creates a message: Anthropic\'s Message, usage, and the gateway headers', async () => {
    const { data, response, request_id } = await client.messages
      .create({ model: 'gpt', max_tokens: 256, messages: [{ role: 'user', content: 'Say hi' }] }, { headers: { 'x-request-id': 'e2e-msg-0001' } })
      .withResponse();
    expect(data).toEqual({
      id: expect.stringMatching(/^msg_fake\d+$/) as unknown,
      type: 'message',
      role: 'assistant',
      model: 'gpt',
      content: [{ type: 'text', text: 'Hello from gpt-4o-mini. You said: Say hi' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 7 },
    });
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('x-request-id')).toBe('e2e-msg-0001');
    expect(request_id).toBe('e2e-msg-0001');
    expect(response.headers.get('x-switchyard-provider')).toBe('oai');
    expect(response.headers.get('x-switchyard-model')).toBe('gpt-4o-mini');
    expect(response.headers.get('x-switchyard-attempts')).toBe('1');

    const sent = openai.lastRequest();
    expect(sent.body).toEqual({ model: 'gpt-4o-mini', max_tokens: 256, messages: [{ role: 'user', content: 'Say hi' }] });
    expect(sent.headers['x-request-id']).toBe('e2e-msg-0001');
    expect(sent.headers.authorization).toBe('Bearer sk-upstream-oai');
  });

  it('sends the system prompt and a multi-turn conversation upstream in order', async () => {
    const message = await client.messages.create({
      model: 'gpt',
      max_tokens: 128,
      system: [{ type: 'text', text: 'You are terse.' }],
      messages: [
        { role: 'user', content: 'Hello there.' },
        { role: 'assistant', content: "Hi, I'm Claude. How can I help you?" },
        { role: 'user', content: [{ type: 'text', text: 'Can you explain LLMs in plain English?' }] },
      ],
      metadata: { user_id: 'user-7' },
    });
    expect(textOf(message)).toBe('Hello from gpt-4o-mini. You said: Can you explain LLMs in plain English?');
    expect(upstreamBody()).toEqual({
      model: 'gpt-4o-mini',
      max_tokens: 128,
      user: 'user-7',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'You are terse.' }] },
        { role: 'user', content: 'Hello there.' },
        { role: 'assistant', content: "Hi, I'm Claude. How can I help you?" },
        { role: 'user', content: [{ type: 'text', text: 'Can you explain LLMs in plain English?' }] },
      ],
    });
  });

  it('streams with the stream() helpers: text events, event order and finalMessage() with usage', async () => {
    const stream = client.messages.stream({ model: 'gpt', max_tokens: 256, messages: [{ role: 'user', content: 'Stream please' }] });
    const texts: string[] = [];
    const types: string[] = [];
    stream.on('text', (delta) => texts.push(delta));
    stream.on('streamEvent', (event) => types.push(event.type));
    const message = await stream.finalMessage();

    expect(texts.join('')).toBe('Hello from gpt-4o-mini. You said: Stream please');
    expect(texts.length).toBeGreaterThan(3);
    expect(textOf(message)).toBe(texts.join(''));
    expect(message).toMatchObject({ model: 'gpt', role: 'assistant', stop_reason: 'end_turn', stop_sequence: null });
    expect(message.id).toMatch(/^msg_fake/);
    // The usage trailer was asked for upstream and reached message_delta (the fake counts words).
    expect(message.usage).toMatchObject({ input_tokens: 9, output_tokens: 7 });
    expect(types[0]).toBe('message_start');
    expect(types.slice(1, 2)).toEqual(['content_block_start']);
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(upstreamBody()).toMatchObject({ stream: true, stream_options: { include_usage: true } });

    const response = await stream.withResponse().then((r) => r.response);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-switchyard-provider')).toBe('oai');
    expect(response.headers.get('request-id')).toBe(response.headers.get('x-request-id'));
  });

  it('answers with tool_use, then takes the tool_result turn (non-streaming)', async () => {
    const first = await client.messages.create({ model: 'gpt', max_tokens: 256, tools: [weatherTool], messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(first.stop_reason).toBe('tool_use');
    expect(first.content).toHaveLength(1);
    const use = first.content[0]!;
    if (use.type !== 'tool_use') throw new Error('expected a tool_use block');
    expect(use.id).toMatch(/^call_/);
    expect(use.name).toBe('get_weather');
    expect(use.input).toEqual({ location: 'Paris', unit: 'celsius' });
    expect(upstreamBody().tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: weatherTool.description, parameters: weatherTool.input_schema } }]);

    const second = await client.messages.create({
      model: 'gpt',
      max_tokens: 256,
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '15 degrees' }] },
      ],
    });
    expect(second.stop_reason).toBe('end_turn');
    expect(textOf(second)).toBe(`The tool ${use.id} returned: 15 degrees`);
    expect((upstreamBody().messages as unknown[]).slice(1)).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: use.id, type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris","unit":"celsius"}' } }] },
      { role: 'tool', tool_call_id: use.id, content: '15 degrees' },
    ]);
  });

  it('streams a forced tool call as input_json_delta pieces the SDK assembles', async () => {
    const stream = client.messages.stream({
      model: 'gpt',
      max_tokens: 256,
      tools: [weatherTool],
      tool_choice: { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true },
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
    });
    const pieces: string[] = [];
    stream.on('inputJson', (partial) => pieces.push(partial));
    const message = await stream.finalMessage();
    expect(pieces.length).toBeGreaterThan(2);
    expect(JSON.parse(pieces.join(''))).toEqual({ location: 'Paris', unit: 'celsius' });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^call_/) as unknown, name: 'get_weather', input: { location: 'Paris', unit: 'celsius' } }]);
    expect(upstreamBody()).toMatchObject({ tool_choice: { type: 'function', function: { name: 'get_weather' } }, parallel_tool_calls: false });
  });

  it('sends base64 and URL images upstream as image_url parts', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
    const message = await client.messages.create({
      model: 'gpt',
      max_tokens: 64,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
            { type: 'text', text: 'What is in these images?' },
          ],
        },
      ],
    });
    expect(textOf(message)).toBe('Hello from gpt-4o-mini. You said: What is in these images? [2 image(s) received]');
    expect((upstreamBody().messages as { content: unknown }[])[0]!.content).toEqual([
      { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
      { type: 'text', text: 'What is in these images?' },
    ]);
  });

  it('asks for structured output (output_config.format) as a json_schema response_format', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' } }, required: ['city', 'population'], additionalProperties: false };
    const message = await client.messages.create({
      model: 'gpt',
      max_tokens: 128,
      output_config: { format: { type: 'json_schema', schema } },
      messages: [{ role: 'user', content: 'A city, please' }],
    });
    expect(JSON.parse(textOf(message))).toEqual({ city: 'fake', population: 42 });
    expect(upstreamBody().response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema, strict: true } });
  });

  it('passes stop_sequences upstream as stop', async () => {
    await client.messages.create({ model: 'gpt', max_tokens: 64, stop_sequences: ['\n\nHuman:', 'END'], messages: [{ role: 'user', content: 'Count' }] });
    expect(upstreamBody().stop).toEqual(['\n\nHuman:', 'END']);
  });

  it('counts tokens without calling the upstream', async () => {
    const counted = await client.messages.countTokens({ model: 'gpt', system: 'Be brief.', messages: [{ role: 'user', content: 'How many tokens is this?' }], tools: [weatherTool] });
    expect(Number.isInteger(counted.input_tokens)).toBe(true);
    expect(counted.input_tokens).toBeGreaterThan(20);
    const shorter = await client.messages.countTokens({ model: 'gpt', messages: [{ role: 'user', content: 'Hi' }] });
    expect(shorter.input_tokens).toBeLessThan(counted.input_tokens);
    expect(openai.requests).toHaveLength(0);
  });
});

describe('the mock provider behind /v1/messages', () => {
  it('creates and streams the same deterministic answer, with usage', async () => {
    const params = { model: 'mock', max_tokens: 256, messages: [{ role: 'user' as const, content: 'Hello mock' }] };
    const created = await client.messages.create(params);
    expect(textOf(created)).toBe('This is a mock reply. You said: Hello mock');
    expect(created.usage.input_tokens).toBeGreaterThan(0);
    expect(created.usage.output_tokens).toBeGreaterThan(0);

    const streamed = await client.messages.stream(params).finalMessage();
    expect(textOf(streamed)).toBe(textOf(created));
    expect(streamed.usage).toMatchObject({ input_tokens: created.usage.input_tokens, output_tokens: created.usage.output_tokens });
  });

  it('reports max_tokens when the answer was cut, and counts tokens as the mock bills them', async () => {
    const cut = await client.messages.create({ model: 'mock', max_tokens: 3, messages: [{ role: 'user', content: 'Please say something long' }] });
    expect(cut.stop_reason).toBe('max_tokens');
    expect(cut.usage.output_tokens).toBeLessThanOrEqual(3);

    const params = { model: 'mock', system: 'You are a mock.', messages: [{ role: 'user' as const, content: 'Count me in, please' }], tools: [weatherTool] };
    const counted = await client.messages.countTokens(params);
    const created = await client.messages.create({ ...params, max_tokens: 64, tool_choice: { type: 'none' } });
    expect(counted.input_tokens).toBe(created.usage.input_tokens);
  });

  it('calls a forced tool and streams its input', async () => {
    const message = await client.messages
      .stream({ model: 'mock', max_tokens: 256, tools: [weatherTool], tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'Weather?' }] })
      .finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^call_/) as unknown, name: 'get_weather', input: { location: 'mock', unit: 'celsius' } }]);
  });
});

describe('an Anthropic target behind /v1/messages', () => {
  it('creates a message natively: the upstream message as it came, with the upstream model name', async () => {
    anthropic.enqueue({ kind: 'reply', text: 'Hello from the fake.', finish: 'stop', usage: { input: 12, output: 5, cacheRead: 100, cacheWrite: 20 } });
    const { data, response } = await client.messages
      .create({ model: 'sonnet', max_tokens: 300, system: 'Be kind.', messages: [{ role: 'user', content: 'Hi Claude' }] })
      .withResponse();
    expect(data).toMatchObject({
      id: expect.stringMatching(/^msg_fake/) as unknown,
      model: anthropic.model,
      content: [{ type: 'text', text: 'Hello from the fake.' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 12, cache_read_input_tokens: 100, cache_creation_input_tokens: 20, output_tokens: 5 },
    });
    expect(response.headers.get('x-switchyard-provider')).toBe('claude');
    expect(anthropic.lastChatBody()).toMatchObject({ model: anthropic.model, max_tokens: 300, system: 'Be kind.', messages: [{ role: 'user', content: 'Hi Claude' }] });
  });

  it('streams thinking (with its signature) and text into the SDK\'s final message', async () => {
    anthropic.enqueue({ kind: 'reply', thinking: 'The user greets me.', text: 'Hello!', finish: 'stop', usage: { input: 30, output: 9 } });
    const stream = client.messages.stream({ model: 'sonnet', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'Hi' }] });
    const thoughts: string[] = [];
    stream.on('thinking', (delta) => thoughts.push(delta));
    const message = await stream.finalMessage();
    expect(thoughts.join('')).toBe('The user greets me.');
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'The user greets me.', signature: expect.stringMatching(/^EqQB/) as unknown },
      { type: 'text', text: 'Hello!' },
    ]);
    expect(message.usage).toMatchObject({ input_tokens: 30, output_tokens: 9 });
    expect(anthropic.lastChatBody().thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
  });

  it('returns parallel tool calls, streamed and not, and sends the tool results back as tool_result blocks', async () => {
    const calls = [
      { id: 'toolu_paris', name: 'get_weather', arguments: '{"location":"Paris","unit":"celsius"}' },
      { id: 'toolu_rome', name: 'get_weather', arguments: '{"location":"Rome","unit":"celsius"}' },
    ];
    anthropic.enqueue({ kind: 'reply', text: 'Checking both.', toolCalls: calls, finish: 'tool_calls', usage: { input: 40, output: 30 } });
    const created = await client.messages.create({ model: 'sonnet', max_tokens: 256, tools: [weatherTool], messages: [{ role: 'user', content: 'Paris and Rome?' }] });
    anthropic.enqueue({ kind: 'reply', text: 'Checking both.', toolCalls: calls, finish: 'tool_calls', usage: { input: 40, output: 30 } });
    const streamed = await client.messages.stream({ model: 'sonnet', max_tokens: 256, tools: [weatherTool], messages: [{ role: 'user', content: 'Paris and Rome?' }] }).finalMessage();

    for (const message of [created, streamed]) {
      expect(message.stop_reason).toBe('tool_use');
      expect(message.content).toEqual([
        { type: 'text', text: 'Checking both.' },
        { type: 'tool_use', id: 'toolu_paris', name: 'get_weather', input: { location: 'Paris', unit: 'celsius' } },
        { type: 'tool_use', id: 'toolu_rome', name: 'get_weather', input: { location: 'Rome', unit: 'celsius' } },
      ]);
    }

    await client.messages.create({
      model: 'sonnet',
      max_tokens: 256,
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Paris and Rome?' },
        { role: 'assistant', content: created.content },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_paris', content: '15 degrees' },
            { type: 'tool_result', tool_use_id: 'toolu_rome', content: 'unavailable', is_error: true },
          ],
        },
      ],
    });
    const sent = anthropic.lastChatRequest();
    expect(sent.messages.map((m) => [m.role, m.toolCalls, m.toolResultFor ?? null])).toEqual([
      ['user', [], null],
      ['assistant', ['get_weather', 'get_weather'], null],
      ['tool', [], 'toolu_paris'],
      ['tool', [], 'toolu_rome'],
    ]);
    expect(sent.messages.at(-1)!.text).toContain('unavailable');
  });
});

describe('an Anthropic target served natively', () => {
  const fixture = (name: string): string => readFileSync(new URL(`../../src/providers/anthropic/__fixtures__/${name}`, import.meta.url), 'utf8');
  const post = (body: unknown, headers: Record<string, string> = {}) => raw(gateway, '/v1/messages', { body: JSON.stringify(body), headers: { 'x-api-key': MASTER_KEY, ...headers } });

  /** Fields, blocks and tools only Anthropic understands (the canonical format would drop or change them). */
  const anthropicOnly = {
    model: 'sonnet',
    max_tokens: 321,
    top_k: 7,
    service_tier: 'standard_only',
    container: 'container_011CPR5CNjB747bTd36fQLFk',
    mcp_servers: [{ type: 'url', url: 'https://mcp.example.com/sse', name: 'example' }],
    system: [{ type: 'text', text: 'Answer from the document.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
    messages: [
      {
        role: 'user',
        content: [
          { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The grass is green. The sky is blue.' }, title: 'Facts', citations: { enabled: true } },
          { type: 'text', text: 'What colour is the grass?' },
        ],
      },
    ],
    tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }],
    output_config: { effort: 'low' },
  };

  it('sends the client request upstream as it is (only the model replaced), and answers with the upstream bytes', async () => {
    anthropic.enqueue({ kind: 'reply', text: 'Green.', finish: 'stop', usage: { input: 30, output: 2, cacheRead: 10 } });
    const { data, response } = await client.messages.create(anthropicOnly as unknown as Anthropic.MessageCreateParamsNonStreaming, { headers: { 'x-request-id': 'e2e-native-01' } }).withResponse();
    expect(anthropic.lastChatBody()).toEqual({ ...anthropicOnly, model: anthropic.model });
    expect(data).toEqual(JSON.parse(anthropic.lastResponseText()));
    expect(data.model).toBe(anthropic.model);
    expect(response.headers.get('x-request-id')).toBe('e2e-native-01');
    expect(response.headers.get('request-id')).toBe('e2e-native-01');
    expect(response.headers.get('x-switchyard-provider')).toBe('claude');
    expect(response.headers.get('x-switchyard-model')).toBe(anthropic.model);

    const res = await post(anthropicOnly);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.text).toBe(anthropic.lastResponseText());
    // A recorded answer with Anthropic's own formatting comes back with every byte in place.
    const recorded = fixture('message-thinking.json');
    anthropic.enqueue({ kind: 'raw', body: recorded });
    expect((await post(anthropicOnly)).text).toBe(recorded);
  });

  it('sends the client\'s own bytes, only the model\'s value changed: numbers keep their spelling and every digit', async () => {
    const body = (stream: boolean) =>
      `{\n  "max_tokens": 321,\n  "temperature": 1.0,\n  "metadata": { "user_id": "u-9007199254740993" },\n  "model" : "sonnet",${stream ? ' "stream": true,' : ''}\n  "messages": [ { "role": "user", "content": "Exact \\"bytes\\" \\u00e9" } ]\n}`;
    for (const stream of [false, true]) {
      anthropic.enqueue({ kind: 'reply', text: 'Bytes.', finish: 'stop', usage: { input: 10, output: 2 } });
      const res = await raw(gateway, '/v1/messages', { body: body(stream), headers: { 'x-api-key': MASTER_KEY } });
      expect(res.status).toBe(200);
      expect(anthropic.requests.at(-1)!.rawBody).toBe(body(stream).replace('"model" : "sonnet"', `"model" : ${JSON.stringify(anthropic.model)}`));
    }
  });

  it('forwards the stream events byte for byte, and the SDK stream() helpers work on them', async () => {
    anthropic.enqueue({ kind: 'reply', thinking: 'Grass is green.', text: 'Green, as the document says.', finish: 'stop', usage: { input: 30, output: 8 } });
    const res = await post({ ...anthropicOnly, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-switchyard-provider')).toBe('claude');
    expect(res.text).toBe(anthropic.lastResponseText());
    expect(anthropic.lastChatBody()).toEqual({ ...anthropicOnly, model: anthropic.model, stream: true });

    // Recorded streams (Anthropic's spacing; server tool blocks) come back with every byte in place.
    for (const name of ['stream-text.sse.txt', 'stream-web-search.sse.txt']) {
      const recorded = fixture(name);
      anthropic.enqueue({ kind: 'raw', body: recorded });
      expect((await post({ ...anthropicOnly, stream: true })).text).toBe(recorded);
    }

    anthropic.enqueue({ kind: 'reply', thinking: 'Grass is green.', text: 'Green, as the document says.', finish: 'stop', usage: { input: 30, output: 8 } });
    const stream = client.messages.stream(anthropicOnly as unknown as Anthropic.MessageStreamParams);
    const texts: string[] = [];
    const thoughts: string[] = [];
    stream.on('text', (delta) => texts.push(delta));
    stream.on('thinking', (delta) => thoughts.push(delta));
    const message = await stream.finalMessage();
    expect(texts.join('')).toBe('Green, as the document says.');
    expect(thoughts.join('')).toBe('Grass is green.');
    expect(message).toMatchObject({ model: anthropic.model, stop_reason: 'end_turn', usage: { input_tokens: 30, output_tokens: 8 } });
    expect(message.content.map((block) => block.type)).toEqual(['thinking', 'text']);
  });

  it('passes the client\'s anthropic-beta header on (SDK betas, create and count_tokens)', async () => {
    await client.beta.messages.create({ model: 'sonnet', max_tokens: 64, betas: ['files-api-2025-04-14'], messages: [{ role: 'user', content: 'Hi' }] });
    expect(anthropic.lastHeaders()['anthropic-beta']).toBe('files-api-2025-04-14');
    await client.messages.create({ model: 'sonnet', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    expect(anthropic.lastHeaders()['anthropic-beta']).toBeUndefined();
    await client.messages.countTokens({ model: 'sonnet', messages: [{ role: 'user', content: 'Hi' }] }, { headers: { 'anthropic-beta': 'token-efficient-tools-2025-02-19' } });
    expect(anthropic.lastHeaders()['anthropic-beta']).toBe('token-efficient-tools-2025-02-19');
  });

  it('fails over from an overloaded (529) Anthropic target to an OpenAI one, answering in Anthropic\'s shape', async () => {
    anthropic.enqueue({ kind: 'http-error', errorClass: 'overloaded', message: 'Overloaded' });
    const { data, response } = await client.messages.create({ model: 'claude-or-gpt', max_tokens: 64, messages: [{ role: 'user', content: 'Fail over' }] }).withResponse();
    expect(data).toMatchObject({ type: 'message', model: 'claude-or-gpt', content: [{ type: 'text', text: 'Hello from gpt-4o-mini. You said: Fail over' }], stop_reason: 'end_turn' });
    expect(response.headers.get('x-switchyard-provider')).toBe('oai');
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    expect(anthropic.chatRequestCount()).toBe(1);
    expect(upstreamBody()).toMatchObject({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Fail over' }] });
  });

  it('fails a stream over when Anthropic sends an error event before any output', async () => {
    anthropic.enqueue({ kind: 'stream-error-after-start', message: 'Overloaded' });
    const stream = client.messages.stream({ model: 'claude-or-gpt', max_tokens: 64, messages: [{ role: 'user', content: 'Stream over' }] });
    const texts: string[] = [];
    stream.on('text', (delta) => texts.push(delta));
    const message = await stream.finalMessage();
    expect(texts.join('')).toBe('Hello from gpt-4o-mini. You said: Stream over');
    expect(message).toMatchObject({ model: 'claude-or-gpt', stop_reason: 'end_turn' });
    const response = await stream.withResponse().then((r) => r.response);
    expect(response.headers.get('x-switchyard-provider')).toBe('oai');
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');

    anthropic.enqueue({ kind: 'stream-error-before-output', message: 'Overloaded' });
    const mocked = await client.messages.stream({ model: 'claude-or-mock', max_tokens: 64, messages: [{ role: 'user', content: 'Hello mock' }] }).finalMessage();
    expect(textOf(mocked)).toBe('This is a mock reply. You said: Hello mock');
  });

  it('ends a native stream that fails after output with an error event the SDK raises', async () => {
    anthropic.enqueue({ kind: 'stream-error-after-output', text: 'Once upon a time', message: 'Internal server error' });
    const stream = client.messages.stream({ model: 'claude-or-gpt', max_tokens: 64, messages: [{ role: 'user', content: 'A story' }] });
    const texts: string[] = [];
    stream.on('text', (delta) => texts.push(delta));
    const error = await stream.finalMessage().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).error).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('api_error: Internal server error') as unknown } });
    expect(texts.join('')).toBe('Once upon a time');
    expect(openai.requests).toHaveLength(0);
  });

  it('passes an upstream 400 on in Anthropic\'s shape, without failing over', async () => {
    anthropic.enqueue({ kind: 'http-error', errorClass: 'invalid_request', message: 'container: not found' });
    const error = await failure(client.messages.create({ model: 'claude-or-gpt', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }), BadRequestError, 400, 'invalid_request_error');
    expect(error.apiMessage).toContain('container: not found');
    expect(openai.requests).toHaveLength(0);
  });

  it('counts tokens with Anthropic\'s own count_tokens, body as it is', async () => {
    const params = { model: 'sonnet', system: 'Be brief.', messages: [{ role: 'user' as const, content: 'How many tokens is this, exactly?' }], tools: [weatherTool] };
    const counted = await client.messages.countTokens(params);
    const sent = anthropic.requests.at(-1)!;
    expect(sent.path).toBe('/v1/messages/count_tokens');
    expect(sent.body).toEqual({ ...params, model: anthropic.model });
    expect(counted.input_tokens).toBe(fakeTokenCount(params));
    const estimated = await client.messages.countTokens({ ...params, model: 'gpt' });
    expect(estimated.input_tokens).not.toBe(counted.input_tokens);
    expect(anthropic.chatRequestCount()).toBe(0);
  });
});

describe('a Bedrock target behind /v1/messages', () => {
  it('creates and streams messages through Converse / ConverseStream', async () => {
    bedrock.enqueue({ kind: 'reply', text: 'Hello from Bedrock.', finish: 'stop', usage: { input: 11, output: 4 } });
    const message = await client.messages.create({ model: 'nova', max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }] });
    expect(message).toMatchObject({ model: 'nova', content: [{ type: 'text', text: 'Hello from Bedrock.' }], stop_reason: 'end_turn', usage: { input_tokens: 11, output_tokens: 4 } });
    expect(bedrock.lastChatRequest()).toMatchObject({ stream: false, system: 'Be brief.', maxTokens: 64 });

    bedrock.enqueue({ kind: 'reply', toolCalls: [{ id: 'tooluse_1', name: 'get_weather', arguments: '{"location":"Oslo","unit":"celsius"}' }], finish: 'tool_calls', usage: { input: 30, output: 9 } });
    const streamed = await client.messages.stream({ model: 'nova', max_tokens: 64, tools: [weatherTool], messages: [{ role: 'user', content: 'Weather in Oslo?' }] }).finalMessage();
    expect(streamed.stop_reason).toBe('tool_use');
    expect(streamed.content).toEqual([{ type: 'tool_use', id: 'tooluse_1', name: 'get_weather', input: { location: 'Oslo', unit: 'celsius' } }]);
    expect(bedrock.lastChatRequest()).toMatchObject({ stream: true, tools: ['get_weather'] });
  });
});

describe('a Gemini target behind /v1/messages', () => {
  it('creates a message: system and user text reach Gemini, the answer and usage come back in Anthropic\'s shape', async () => {
    gemini.enqueue({ kind: 'reply', text: 'Hello from Gemini.', finish: 'stop', usage: { input: 14, output: 4 } });
    const { data, response } = await client.messages
      .create({ model: 'flash', max_tokens: 200, system: 'Be brief.', messages: [{ role: 'user', content: 'Hi Gemini' }] })
      .withResponse();
    expect(data).toMatchObject({ type: 'message', role: 'assistant', model: 'flash', content: [{ type: 'text', text: 'Hello from Gemini.' }], stop_reason: 'end_turn' });
    expect(data.usage).toMatchObject({ input_tokens: 14, output_tokens: 4 });
    expect(response.headers.get('x-switchyard-provider')).toBe('google');
    const upstream = gemini.lastChatRequest();
    expect(upstream).toMatchObject({ model: gemini.model, stream: false, system: 'Be brief.', maxTokens: 200 });
    expect(upstream.messages).toEqual([{ role: 'user', text: 'Hi Gemini', images: 0, toolCalls: [] }]);
  });

  it('streams through the SDK\'s stream() helpers to a final message', async () => {
    gemini.enqueue({ kind: 'reply', text: 'One two three four.', finish: 'stop', usage: { input: 9, output: 6 } });
    const stream = client.messages.stream({ model: 'flash', max_tokens: 100, messages: [{ role: 'user', content: 'Count' }] });
    const deltas: string[] = [];
    stream.on('text', (delta) => deltas.push(delta));
    const message = await stream.finalMessage();
    expect(deltas.join('')).toBe('One two three four.');
    expect(textOf(message)).toBe('One two three four.');
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.output_tokens).toBe(6);
    expect(gemini.lastChatRequest().stream).toBe(true);
  });

  it('runs a tool round trip: a streamed tool_use, then the tool_result back to Gemini', async () => {
    gemini.enqueue({ kind: 'reply', toolCalls: [{ id: 'call_weather_1', name: 'get_weather', arguments: '{"location":"Paris","unit":"celsius"}' }], finish: 'tool_calls', usage: { input: 40, output: 12 } });
    const first = await client.messages.stream({ model: 'flash', max_tokens: 300, tools: [weatherTool], messages: [{ role: 'user', content: 'Weather in Paris?' }] }).finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    const call = first.content.find((block): block is Anthropic.ToolUseBlock => block.type === 'tool_use');
    expect(call).toMatchObject({ name: 'get_weather', input: { location: 'Paris', unit: 'celsius' } });
    expect(gemini.lastChatRequest().tools).toEqual(['get_weather']);

    gemini.enqueue({ kind: 'reply', text: 'It is 18 °C in Paris.', finish: 'stop', usage: { input: 60, output: 8 } });
    const second = await client.messages.create({
      model: 'flash',
      max_tokens: 300,
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call!.id, content: '18 °C, sunny' }] },
      ],
    });
    expect(textOf(second)).toBe('It is 18 °C in Paris.');
    const upstream = gemini.lastChatRequest();
    expect(upstream.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(upstream.messages[1]!.toolCalls).toEqual(['get_weather']);
    expect(upstream.messages[2]).toMatchObject({ role: 'tool', toolResultFor: call!.id });
    expect(upstream.messages[2]!.text).toContain('18 °C, sunny');
  });

  it('counts tokens for a Gemini-backed group', async () => {
    const { input_tokens } = await client.messages.countTokens({ model: 'flash', messages: [{ role: 'user', content: 'How many tokens is this sentence?' }] });
    expect(input_tokens).toBeGreaterThan(5);
    expect(input_tokens).toBeLessThan(40);
    expect(gemini.chatRequestCount()).toBe(0);
  });
});

describe('errors in Anthropic\'s shape', () => {
  it('answers 400 naming the field, without calling the upstream', async () => {
    const error = await failure(
      client.messages.create({ model: 'gpt', max_tokens: 64, messages: [{ role: 'user', content: [{ type: 'text' }] }] } as unknown as Anthropic.MessageCreateParamsNonStreaming),
      BadRequestError,
      400,
      'invalid_request_error',
    );
    expect(error.apiMessage).toBe('messages.0.content.0.text: Field required');
    const noMax = await failure(client.messages.create({ model: 'gpt', messages: [{ role: 'user', content: 'Hi' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming), BadRequestError, 400, 'invalid_request_error');
    expect(noMax.apiMessage).toBe('max_tokens: Field required');
    expect(openai.requests).toHaveLength(0);
  });

  it('answers 401 for a bad x-api-key', async () => {
    await failure(messagesClient('sk-wrong-key').messages.create({ model: 'gpt', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }), AuthenticationError, 401, 'authentication_error');
    await failure(messagesClient('sk-wrong-key').messages.countTokens({ model: 'gpt', messages: [{ role: 'user', content: 'Hi' }] }), AuthenticationError, 401, 'authentication_error');
  });

  it('answers 404 not_found_error for an unknown model (create, stream and count_tokens)', async () => {
    const error = await failure(client.messages.create({ model: 'nope', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }), NotFoundError, 404, 'not_found_error');
    expect(error.apiMessage).toContain('"nope"');
    await failure(client.messages.stream({ model: 'nope', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage(), NotFoundError, 404, 'not_found_error');
    await failure(client.messages.countTokens({ model: 'nope', messages: [{ role: 'user', content: 'Hi' }] }), NotFoundError, 404, 'not_found_error');
  });

  it('answers 413 request_too_large for a body over the limit', async () => {
    const huge = 'x'.repeat(80 * 1024);
    await failure(client.messages.create({ model: 'gpt', max_tokens: 64, messages: [{ role: 'user', content: huge }] }), ContentTooLargeError, 413, 'request_too_large');
  });

  it('passes an upstream 429 on as 429 rate_limit_error with its retry-after', async () => {
    openai.inject({ kind: 'http-error', error: OPENAI_ERRORS.rateLimited() });
    const error = await failure(client.messages.create({ model: 'gpt', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }), RateLimitError, 429, 'rate_limit_error');
    expect(error.headers?.get('retry-after')).toBe('20');
  });

  it('answers an upstream failure before the first event as an HTTP error (502)', async () => {
    openai.inject({ kind: 'http-error', error: OPENAI_ERRORS.serverError() });
    await failure(client.messages.stream({ model: 'gpt', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage(), InternalServerError, 502, 'api_error');
  });

  it('ends a stream that fails mid-way with an error event the SDK raises', async () => {
    openai.inject({ kind: 'stream-error', afterChunks: 3 });
    const stream = client.messages.stream({ model: 'gpt', max_tokens: 64, messages: [{ role: 'user', content: 'One two three four five' }] });
    const texts: string[] = [];
    stream.on('text', (delta) => texts.push(delta));
    const error = await stream.finalMessage().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).type).toBe('api_error');
    expect((error as APIError).error).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('mid-stream') as unknown } });
    expect(texts.join('')).toBe('Hello from');

    const res = await raw(gateway, '/v1/messages', {
      body: JSON.stringify({ model: 'gpt', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'again' }] }),
      headers: { 'x-api-key': MASTER_KEY },
    });
    expect(res.status).toBe(200);
    expect(res.text.startsWith('event: message_start\n')).toBe(true);
    expect(res.text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n')).toBe(true);
  });

  it('aborts the upstream stream when the client goes away mid-stream', async () => {
    openai.inject({ kind: 'slow-stream', chunkDelayMs: 100 });
    const stream = client.messages.stream({ model: 'gpt', max_tokens: 64, messages: [{ role: 'user', content: 'A slow answer with many words in it' }] });
    stream.on('text', () => stream.abort());
    await stream.done().catch(() => undefined);
    const aborted = await openai.waitForAbort();
    expect((aborted.body as { model: string }).model).toBe('gpt-4o-mini');
  });

  it('answers errors on the bare /messages path in Anthropic\'s shape too', async () => {
    const res = await raw(gateway, '/messages', { body: '{"model": "gpt", "max_tokens": 1, "messages": [', headers: { 'x-api-key': MASTER_KEY } });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' }, request_id: res.headers.get('x-request-id') });
    expect(res.headers.get('request-id')).toBe(res.headers.get('x-request-id'));
  });
});
