/** The built-in `mock` provider through the official SDK: deterministic, streams, reports usage. */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  gateway = await startGateway(`
providers:
  demo: { type: mock }
models:
  mock: { targets: [ { provider: demo, model: mock-1 } ] }
`);
  client = sdk(gateway);
});

afterAll(stopAllGateways);

const ask = (content: string): OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming => ({ model: 'mock', messages: [{ role: 'user', content }] });

describe('mock provider', () => {
  it('answers deterministically with usage (non-streaming)', async () => {
    const { data: first, response } = await client.chat.completions.create(ask('Hello mock')).withResponse();
    const second = await client.chat.completions.create(ask('Hello mock'));
    expect(first.object).toBe('chat.completion');
    expect(first.model).toBe('mock-1');
    expect(first.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'This is a mock reply. You said: Hello mock' });
    expect(first.choices[0]!.finish_reason).toBe('stop');
    expect(second.choices[0]!.message.content).toBe(first.choices[0]!.message.content);
    expect(second.usage).toEqual(first.usage);
    const usage = first.usage!;
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeGreaterThan(0);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(response.headers.get('x-switchyard-provider')).toBe('demo');
    expect(response.headers.get('x-switchyard-model')).toBe('mock-1');
  });

  it('streams the same answer, with a usage chunk when asked for it', async () => {
    const reference = await client.chat.completions.create(ask('Stream mock'));
    const stream = await client.chat.completions.create({ ...ask('Stream mock'), stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content ?? '')).join('')).toBe(reference.choices[0]!.message.content);
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finish.map((c) => c.choices[0]!.finish_reason)).toEqual(['stop']);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(reference.usage);

    const plain = await client.chat.completions.create({ ...ask('Stream mock'), stream: true });
    const plainChunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of plain) plainChunks.push(chunk);
    expect(plainChunks.some((c) => c.choices.length === 0 || c.usage)).toBe(false);
  });

  it('calls a tool deterministically', async () => {
    const completion = await client.chat.completions.create({
      ...ask('use get_time'),
      tools: [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string', enum: ['UTC', 'CET'] } }, required: ['zone'] } } }],
    });
    const call = completion.choices[0]!.message.tool_calls![0]!;
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    if (call.type !== 'function') throw new Error('expected a function tool call');
    expect(call.function.name).toBe('get_time');
    expect(JSON.parse(call.function.arguments)).toEqual({ zone: 'UTC' });
  });

  it('embeds deterministically (float and base64 agree)', async () => {
    const floats = await client.embeddings.create({ model: 'mock', input: ['alpha', 'beta'], encoding_format: 'float' });
    const again = await client.embeddings.create({ model: 'mock', input: ['alpha', 'beta'], encoding_format: 'float' });
    expect(floats.data).toHaveLength(2);
    expect(again.data[0]!.embedding).toEqual(floats.data[0]!.embedding);
    expect(floats.data[1]!.embedding).not.toEqual(floats.data[0]!.embedding);
    const decoded = await client.embeddings.create({ model: 'mock', input: ['alpha', 'beta'] }); // SDK asks base64, decodes
    expect(decoded.data[0]!.embedding.length).toBe(floats.data[0]!.embedding.length);
    decoded.data[0]!.embedding.slice(0, 16).forEach((value, i) => expect(value).toBeCloseTo(floats.data[0]!.embedding[i]!, 6));
  });
});
