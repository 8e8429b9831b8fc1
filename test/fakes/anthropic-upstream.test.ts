/** The fake Anthropic API itself: it must refuse what Anthropic refuses and frame answers as Anthropic does. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeAnthropic } from './anthropic-upstream.js';

let fake: FakeAnthropic;

beforeAll(async () => {
  fake = await FakeAnthropic.start();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

async function post(path: string, body: unknown, headers: Record<string, string> = { 'x-api-key': fake.apiKey, 'anthropic-version': '2023-06-01' }) {
  const res = await fetch(`${fake.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const hello = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] };

describe('FakeAnthropic', () => {
  it('requires x-api-key and anthropic-version like the real API, with a request-id on every answer', async () => {
    const missingKey = await post('/v1/messages', hello, { 'anthropic-version': '2023-06-01' });
    expect(missingKey.status).toBe(401);
    expect(JSON.parse(missingKey.text)).toMatchObject({ type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' } });
    expect(missingKey.headers.get('request-id')).toMatch(/^req_/);
    expect((await post('/v1/messages', hello, { 'x-api-key': 'sk-ant-nope', 'anthropic-version': '2023-06-01' })).status).toBe(401);
    const missingVersion = await post('/v1/messages', hello, { 'x-api-key': fake.apiKey });
    expect(missingVersion.status).toBe(400);
    expect(missingVersion.text).toContain('anthropic-version: header is required');
  });

  it.each([
    [{ ...hello, max_tokens: undefined }, 'max_tokens: Field required'],
    [{ ...hello, messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] }, 'roles must alternate'],
    [{ ...hello, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: 'r' }] }] }, 'unexpected `tool_use_id`'],
    [{ ...hello, thinking: { type: 'enabled', budget_tokens: 2048 } }, 'must be greater than `thinking.budget_tokens`'],
    [{ ...hello, max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, tools: [{ name: 'f', input_schema: {} }], tool_choice: { type: 'any' } }, 'tool_choice forces tool use'],
  ])('refuses an invalid request with a 400 (%#)', async (body, message) => {
    const res = await post('/v1/messages', body);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining(message) as unknown } });
  });

  it('streams with Anthropic\'s framing: event line, data line, blank line; a ping after message_start', async () => {
    fake.enqueue({ kind: 'reply', text: 'Hello there', finish: 'stop', usage: { input: 5, output: 2 } });
    const res = await post('/v1/messages', { ...hello, stream: true });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = res.text.split('\n\n').filter(Boolean);
    for (const event of events) {
      const [eventLine, dataLine, ...rest] = event.split('\n');
      expect(rest).toEqual([]);
      const type = eventLine!.replace(/^event: /, '');
      expect((JSON.parse(dataLine!.replace(/^data: /, '')) as { type: string }).type).toBe(type);
    }
    expect(events.map((e) => e.split('\n')[0]!.slice(7))).toEqual([
      'message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop',
    ]);
    expect(res.text.endsWith('data: {"type":"message_stop"}\n\n')).toBe(true);
  });

  it('answers 529 overloaded_error and 429 with retry-after for the scripted classes', async () => {
    fake.enqueue({ kind: 'http-error', errorClass: 'overloaded', message: 'Overloaded' });
    const overloaded = await post('/v1/messages', hello);
    expect([overloaded.status, JSON.parse(overloaded.text).error.type]).toEqual([529, 'overloaded_error']);
    fake.enqueue({ kind: 'http-error', errorClass: 'rate_limit', message: 'slow down', retryAfterSeconds: 3 });
    const limited = await post('/v1/messages', hello);
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '3']);
  });

  it('counts tokens without counting a chat request', async () => {
    const res = await post('/v1/messages/count_tokens', { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hello, Claude' }] });
    expect(res.status).toBe(200);
    const { input_tokens } = JSON.parse(res.text) as { input_tokens: number };
    expect(input_tokens).toBeGreaterThan(0);
    expect(fake.chatRequestCount()).toBe(0);
  });
});
