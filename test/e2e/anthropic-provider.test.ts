/**
 * The `anthropic` provider through the gateway with the official OpenAI SDK, against the fake
 * Anthropic API: what the shared conformance suite does not cover — the exact Messages request
 * (system, max_tokens default, tool round trip, tool_choice, images, stop sequences, thinking,
 * cache_control, JSON output), and failover / error behaviour specific to Anthropic.
 */
import type { OpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeAnthropic, JSON_TOOL, type AnthropicScript } from '../fakes/anthropic-upstream.js';
import { raw, sdk, collect, apiError, type Chunk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

const WRONG_KEY = 'sk-ant-api03-wrong-e2e-key-4242';
let fake: FakeAnthropic;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  fake = await FakeAnthropic.start({ apiKey: 'sk-ant-api03-e2e-key-0001' });
  gateway = await startGateway(`
providers:
  claude: { type: anthropic, base_url: ${fake.url}, api_key: ${fake.apiKey}, default_max_tokens: 2048 }
  claude-eu: { type: anthropic, base_url: ${fake.url}, api_key: ${fake.apiKey} }
  claude-badkey: { type: anthropic, base_url: ${fake.url}, api_key: ${WRONG_KEY} }
models:
  claude: { targets: [ { provider: claude, model: claude-sonnet-4-5 } ] }
  ha:
    targets:
      - { provider: claude, model: claude-sonnet-4-5 }
      - { provider: claude-eu, model: claude-haiku-4-5 }
  badkey: { targets: [ { provider: claude-badkey, model: claude-sonnet-4-5 } ] }
  opus: { targets: [ { provider: claude, model: claude-opus-4-7 } ] }
`);
  client = sdk(gateway);
});

afterAll(async () => {
  await stopAllGateways();
  await fake?.close();
});

beforeEach(() => fake.reset());

type Body = Record<string, unknown> & { messages: { role: string; content: unknown }[] };

const reply = (extra: Partial<Extract<AnthropicScript, { kind: 'reply' }>> = {}): void =>
  fake.enqueue({ kind: 'reply', text: 'OK.', finish: 'stop', usage: { input: 10, output: 2 }, ...extra });
const sent = (): Body => fake.lastChatBody() as Body;

const deltaText = (chunks: Chunk[], key: 'content' | 'reasoning_content') =>
  chunks.flatMap((c) => c.choices.map((choice) => ((choice.delta as Record<string, unknown>)[key] as string | undefined) ?? '')).join('');


const WEATHER = { type: 'function' as const, function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

describe('the Messages request', () => {
  it('moves system and developer messages to `system`, defaults max_tokens, and sends Anthropic\'s headers', async () => {
    reply({ text: 'Bonjour.' });
    const { data, response } = await client.chat.completions
      .create({ model: 'claude', messages: [{ role: 'system', content: 'Be terse.' }, { role: 'developer', content: 'Answer in French.' }, { role: 'user', content: 'Hello' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Bonjour.');
    expect(data.id).toMatch(/^msg_fake/);
    expect(data.model).toBe('claude-sonnet-4-5');
    expect(response.headers.get('x-switchyard-provider')).toBe('claude');
    expect(sent()).toEqual({ model: 'claude-sonnet-4-5', max_tokens: 2048, system: 'Be terse.\n\nAnswer in French.', messages: [{ role: 'user', content: 'Hello' }] });
    expect(fake.lastHeaders()).toMatchObject({ 'x-api-key': fake.apiKey, 'anthropic-version': '2023-06-01' });
  });

  it('runs a parallel tool round trip: tool_use blocks out, one user turn of tool_result blocks back', async () => {
    fake.enqueue({
      kind: 'reply',
      toolCalls: [
        { id: 'toolu_01Paris', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { id: 'toolu_02Rome', name: 'get_weather', arguments: '{"city":"Rome"}' },
      ],
      finish: 'tool_calls',
      usage: { input: 50, output: 20 },
    });
    const question = { role: 'user' as const, content: 'Weather in Paris and Rome?' };
    const first = await client.chat.completions.create({ model: 'claude', tools: [WEATHER], messages: [question] });
    const assistant = first.choices[0]!.message;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(assistant.tool_calls?.map((c) => (c.type === 'function' ? [c.id, c.function.name, JSON.parse(c.function.arguments)] : []))).toEqual([
      ['toolu_01Paris', 'get_weather', { city: 'Paris' }],
      ['toolu_02Rome', 'get_weather', { city: 'Rome' }],
    ]);
    expect(sent().tools).toEqual([{ name: 'get_weather', description: 'Weather for a city', input_schema: WEATHER.function.parameters }]);

    reply({ text: 'Rome is warmer.' });
    const second = await client.chat.completions.create({
      model: 'claude',
      tools: [WEATHER],
      messages: [question, assistant, { role: 'tool', tool_call_id: 'toolu_01Paris', content: '18C' }, { role: 'tool', tool_call_id: 'toolu_02Rome', content: '24C' }],
    });
    expect(second.choices[0]!.message.content).toBe('Rome is warmer.');
    expect(sent().messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'toolu_01Paris', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_02Rome', name: 'get_weather', input: { city: 'Rome' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_01Paris', content: '18C' },
          { type: 'tool_result', tool_use_id: 'toolu_02Rome', content: '24C' },
        ],
      },
    ]);
  });

  it('rejects earlier tool-call arguments that are not JSON with a 400 naming the message', async () => {
    const err = await apiError(() =>
      client.chat.completions.create({
        model: 'claude',
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'get_weather', arguments: '{city: Paris' } }] },
          { role: 'tool', tool_call_id: 't1', content: 'r' },
        ],
      }),
    );
    expect(err.status).toBe(400);
    expect(err.message).toContain('messages[1].tool_calls[0].function.arguments is not valid JSON');
    expect(fake.chatRequestCount()).toBe(0);
  });

  it.each([
    ['auto', { type: 'auto', disable_parallel_tool_use: true }],
    ['required', { type: 'any', disable_parallel_tool_use: true }],
    ['none', { type: 'none' }],
    [{ type: 'function', function: { name: 'get_weather' } }, { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true }],
  ] as const)('maps tool_choice %j (with parallel_tool_calls: false)', async (choice, expected) => {
    reply();
    await client.chat.completions.create({ model: 'claude', tools: [WEATHER], tool_choice: choice, parallel_tool_calls: false, messages: [{ role: 'user', content: 'Weather?' }] });
    expect(sent().tool_choice).toEqual(expected);
  });

  it('sends images as base64 and URL sources', async () => {
    reply({ text: 'Two images.' });
    await client.chat.completions.create({
      model: 'claude',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==' } },
            { type: 'image_url', image_url: { url: 'https://upload.example.com/cat.jpg', detail: 'low' } },
          ],
        },
      ],
    });
    expect(sent().messages[0]!.content).toEqual([
      { type: 'text', text: 'Compare' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgoAAAANSUhEUg==' } },
      { type: 'image', source: { type: 'url', url: 'https://upload.example.com/cat.jpg' } },
    ]);
  });

  it('sends stop as stop_sequences and maps a stop_sequence stop to "stop"', async () => {
    reply({ text: 'Item one', stopSequence: '###' });
    const { choices } = await client.chat.completions.create({ model: 'claude', stop: ['###', 'END'], messages: [{ role: 'user', content: 'List' }] });
    expect(sent().stop_sequences).toEqual(['###', 'END']);
    expect(choices[0]!.finish_reason).toBe('stop');
    reply();
    await client.chat.completions.create({ model: 'claude', stop: 'END', messages: [{ role: 'user', content: 'List' }] });
    expect(sent().stop_sequences).toEqual(['END']);
  });
});

describe('thinking', () => {
  it('maps reasoning_effort to a budget and returns thinking as reasoning_content with signed blocks', async () => {
    reply({ text: '12,231', thinking: '27 * 453 = 10,800 + 1,350 + 81.' });
    const completion = await client.chat.completions.create({ model: 'claude', reasoning_effort: 'low', messages: [{ role: 'user', content: '27 * 453?' }] });
    expect(sent()).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 1024 }, max_tokens: 2048 + 1024 });
    const message = completion.choices[0]!.message as OpenAI.Chat.Completions.ChatCompletionMessage & { reasoning_content?: string; thinking_blocks?: { signature?: string }[] };
    expect(message.content).toBe('12,231');
    expect(message.reasoning_content).toBe('27 * 453 = 10,800 + 1,350 + 81.');
    expect(message.thinking_blocks).toEqual([{ type: 'thinking', thinking: '27 * 453 = 10,800 + 1,350 + 81.', signature: expect.stringMatching(/^EqQB/) as unknown }]);

    // The next turn sends the signed block back, first in the assistant turn.
    reply();
    await client.chat.completions.create({
      model: 'claude',
      thinking: { type: 'enabled', budget_tokens: 2000 },
      messages: [{ role: 'user', content: '27 * 453?' }, message as OpenAI.Chat.Completions.ChatCompletionAssistantMessageParam, { role: 'user', content: 'And doubled?' }],
    } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
    expect(sent().thinking).toEqual({ type: 'enabled', budget_tokens: 2000 });
    expect(sent().messages[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: '27 * 453 = 10,800 + 1,350 + 81.', signature: message.thinking_blocks![0]!.signature },
        { type: 'text', text: '12,231' },
      ],
    });
  });

  it('asks a model that thinks only adaptively (Opus 4.7) for adaptive thinking at the effort, where a budget is refused, and leaves out its temperature', async () => {
    reply({ text: '12,231', thinking: 'Multiply in parts.' });
    const completion = await client.chat.completions.create({ model: 'opus', reasoning_effort: 'high', temperature: 0.2, messages: [{ role: 'user', content: '27 * 453?' }] });
    expect(sent()).toMatchObject({ model: 'claude-opus-4-7', thinking: { type: 'adaptive', display: 'summarized' }, output_config: { effort: 'high' }, max_tokens: 2048 + 16384 });
    // It refuses sampling parameters too: the temperature is left out.
    expect(sent()).not.toHaveProperty('temperature');
    expect(completion.choices[0]!.message.content).toBe('12,231');
    expect((completion.choices[0]!.message as { reasoning_content?: string }).reasoning_content).toBe('Multiply in parts.');
    // The budget form the older models take is what this one refuses, with Anthropic's 400 passed on.
    const refused = await apiError(() =>
      client.chat.completions.create({ model: 'opus', thinking: { type: 'enabled', budget_tokens: 2000 }, messages: [{ role: 'user', content: 'Hi' }] } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming),
    );
    expect(refused.status).toBe(400);
    expect(refused.message).toContain('thinking.type.adaptive');
  });

  it('streams thinking as reasoning_content deltas the SDK passes through', async () => {
    reply({ text: 'Four.', thinking: 'Two plus two is four.', redactedThinking: 'EmwKAhgBEgy3va3pzix' });
    const chunks = await collect(await client.chat.completions.create({ model: 'claude', reasoning_effort: 'medium', stream: true, messages: [{ role: 'user', content: '2+2?' }] }));
    expect(sent().thinking).toEqual({ type: 'enabled', budget_tokens: 4096 });
    expect(deltaText(chunks, 'reasoning_content')).toBe('Two plus two is four.');
    expect(deltaText(chunks, 'content')).toBe('Four.');
    const blocks = chunks.flatMap((c) => c.choices.flatMap((choice) => ((choice.delta as { thinking_blocks?: unknown[] }).thinking_blocks ?? [])));
    expect(blocks).toEqual([
      { type: 'thinking', thinking: 'Two plus two is four.', signature: expect.stringMatching(/^EqQB/) as unknown },
      { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix' },
    ]);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
  });
});

describe('prompt caching', () => {
  it('passes cache_control through and reports cache reads and writes in usage, streamed and not', async () => {
    const usage = { input: 20, output: 5, cacheRead: 3000, cacheWrite: 700 };
    const request = {
      model: 'claude',
      tools: [{ ...WEATHER, cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'A long manual.', cache_control: { type: 'ephemeral', ttl: '1h' } }] },
        { role: 'user', content: [{ type: 'text', text: 'Question', cache_control: { type: 'ephemeral' } }] },
      ],
    } as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;
    reply({ usage });
    const completion = await client.chat.completions.create(request);
    expect(sent().system).toEqual([{ type: 'text', text: 'A long manual.', cache_control: { type: 'ephemeral', ttl: '1h' } }]);
    expect(sent().messages[0]!.content).toEqual([{ type: 'text', text: 'Question', cache_control: { type: 'ephemeral' } }]);
    expect((sent().tools as { cache_control?: unknown }[])[0]!.cache_control).toEqual({ type: 'ephemeral' });
    const expected = { prompt_tokens: 3720, completion_tokens: 5, total_tokens: 3725, prompt_tokens_details: { cached_tokens: 3000 }, cache_creation_input_tokens: 700 };
    expect(completion.usage).toEqual(expected);

    reply({ usage });
    const chunks = await collect(await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } }));
    expect(chunks.filter((c) => c.usage).map((c) => c.usage)).toEqual([expected]);
  });
});

describe('JSON output', () => {
  const schema = { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' } }, required: ['city'] };

  it('forces the json_output tool with the schema and returns its input as the content, streamed and not', async () => {
    const answer = { city: 'Paris', population: 2102650 };
    reply({ text: JSON.stringify(answer) });
    const format = { type: 'json_schema' as const, json_schema: { name: 'city', schema } };
    const completion = await client.chat.completions.create({ model: 'claude', response_format: format, messages: [{ role: 'user', content: 'Paris as JSON' }] });
    expect(sent().tools).toEqual([{ name: JSON_TOOL, description: expect.stringContaining('city') as unknown, input_schema: schema }]);
    expect(sent().tool_choice).toEqual({ type: 'tool', name: JSON_TOOL });
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.choices[0]!.message.tool_calls).toBeUndefined();
    expect(JSON.parse(completion.choices[0]!.message.content!)).toEqual(answer);

    reply({ text: JSON.stringify(answer) });
    const chunks = await collect(await client.chat.completions.create({ model: 'claude', response_format: format, stream: true, messages: [{ role: 'user', content: 'Paris as JSON' }] }));
    expect(JSON.parse(deltaText(chunks, 'content'))).toEqual(answer);
    expect(chunks.some((c) => c.choices.some((choice) => choice.delta.tool_calls))).toBe(false);
    expect(chunks.flatMap((c) => c.choices.map((choice) => choice.finish_reason)).filter(Boolean)).toEqual(['stop']);
  });
});

describe('failover and errors', () => {
  it('fails over to the second target when the first answers 529 overloaded', async () => {
    fake.enqueue({ kind: 'http-error', errorClass: 'overloaded', message: 'Overloaded' });
    reply({ text: 'From the second target.' });
    const { data, response } = await client.chat.completions.create({ model: 'ha', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('From the second target.');
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    expect(response.headers.get('x-switchyard-provider')).toBe('claude-eu');
    expect(response.headers.get('x-switchyard-model')).toBe('claude-haiku-4-5');
    expect(sent().model).toBe('claude-haiku-4-5');
  });

  it('fails over when the stream reports an error after message_start but before any output', async () => {
    fake.enqueue({ kind: 'stream-error-after-start', message: 'Overloaded' });
    reply({ text: 'Streamed from the second target.' });
    const { data, response } = await client.chat.completions.create({ model: 'ha', stream: true, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    expect(response.headers.get('x-switchyard-provider')).toBe('claude-eu');
    expect(deltaText(await collect(data), 'content')).toBe('Streamed from the second target.');
  });

  it('after output, ends the SSE stream with an OpenAI error event', async () => {
    fake.enqueue({ kind: 'stream-error-after-output', text: 'Once upon a', message: 'Internal server error' });
    const res = await raw(gateway, '/v1/chat/completions', { body: JSON.stringify({ model: 'ha', stream: true, messages: [{ role: 'user', content: 'Story' }] }) });
    expect(res.status).toBe(200);
    const events = res.text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
    expect(events).not.toContain('[DONE]');
    const last = JSON.parse(events.at(-1)!) as { error: { message: string; type: string } };
    expect(last.error.message).toContain('api_error: Internal server error');
    const text = events.slice(0, -1).map((e) => (JSON.parse(e) as Chunk).choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('Once upon a');
    expect(fake.chatRequestCount()).toBe(1);
  });

  it('passes a 400 through with Anthropic\'s message', async () => {
    const err = await apiError(() =>
      client.chat.completions.create({ model: 'claude', max_tokens: 1500, thinking: { type: 'enabled', budget_tokens: 4000 }, messages: [{ role: 'user', content: 'Hi' }] } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming),
    );
    expect(err.status).toBe(400);
    expect(err.message).toContain('`max_tokens` must be greater than `thinking.budget_tokens`.');
    expect((err.error as { type?: string }).type).toBe('invalid_request_error');
  });

  it('turns an upstream 401 into a 502 that never shows the key', async () => {
    const err = await apiError(() => client.chat.completions.create({ model: 'badkey', messages: [{ role: 'user', content: 'Hi' }] }));
    expect(err.status).toBe(502);
    expect(err.message).toContain('credentials (HTTP 401)');
    expect(err.message).toContain('invalid x-api-key');
    expect(JSON.stringify(err.error)).not.toContain(WRONG_KEY);
    expect(fake.lastHeaders()['x-api-key']).toBe(WRONG_KEY);
  });

  it('answers embeddings requests with a 400 that names the provider', async () => {
    const err = await apiError(() => client.embeddings.create({ model: 'claude', input: 'hello' }));
    expect(err.status).toBe(400);
    expect(err.message).toContain('"claude" is Anthropic, which has no embeddings API');
  });
});
