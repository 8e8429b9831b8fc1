/**
 * The frames as the official SDK reads them: its SSE parser (which skips unnamed events) and its
 * MessageStream accumulator, fed with what the encoder makes of a canonical stream.
 */
import { APIError } from '@anthropic-ai/sdk';
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import { Stream } from '@anthropic-ai/sdk/streaming';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../gateway/errors.js';
import type { ChatCompletionChunk, ChunkChoice } from '../gateway/types.js';
import { MessageStreamEncoder } from '../formats/anthropic-messages/encode-stream.js';
import type { StreamEvent } from '../providers/anthropic/api.js';
import { anthropicErrorFrame, anthropicFrames } from './anthropic-sse.js';

const base = { id: 'chatcmpl-xyz', object: 'chat.completion.chunk' as const, created: 1, model: 'gpt-4o' };
const chunk = (delta: ChunkChoice['delta'], finish: ChunkChoice['finish_reason'] = null): ChatCompletionChunk => ({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] });

function sseText(chunks: ChatCompletionChunk[]): string {
  const encoder = new MessageStreamEncoder({ model: 'smart' });
  const events: StreamEvent[] = [];
  let text = '';
  for (const c of chunks) {
    encoder.push(c, events);
    text += anthropicFrames(events);
    events.length = 0;
  }
  encoder.end(events);
  return text + anthropicFrames(events);
}

/** The SDK's own SSE parsing of a response body. */
async function sdkEvents(text: string): Promise<unknown[]> {
  const stream = Stream.fromSSEResponse<unknown>(new Response(text, { headers: { 'content-type': 'text/event-stream' } }), new AbortController());
  const events: unknown[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe('anthropicFrames', () => {
  it('names every event after its type, one blank line between events', () => {
    expect(anthropicFrames([{ type: 'ping' }, { type: 'content_block_stop', index: 2 }])).toBe(
      'event: ping\ndata: {"type":"ping"}\n\nevent: content_block_stop\ndata: {"type":"content_block_stop","index":2}\n\n',
    );
    expect(anthropicFrames([])).toBe('');
  });

  it('is read by the SDK into a final message with thinking, text, tool input and usage', async () => {
    const text = sseText([
      chunk({ role: 'assistant', reasoning_content: 'Think. ' }),
      chunk({ thinking_blocks: [{ type: 'thinking', signature: 'sig' }] }),
      chunk({ content: 'Checking ' }),
      chunk({ content: 'now.' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city"' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: ':"Paris"}' } }] }),
      chunk({}, 'tool_calls'),
      { ...base, choices: [], usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 } },
    ]);
    const events = await sdkEvents(text);
    const body = new ReadableStream({
      start(controller) {
        for (const event of events) controller.enqueue(new TextEncoder().encode(`${JSON.stringify(event)}\n`));
        controller.close();
      },
    });
    const seen: string[] = [];
    const stream = MessageStream.fromReadableStream(body).on('text', (delta) => seen.push(delta));
    const message = await stream.finalMessage();
    expect(seen).toEqual(['Checking ', 'now.']);
    expect(message).toMatchObject({
      id: 'msg_xyz',
      model: 'smart',
      role: 'assistant',
      stop_reason: 'tool_use',
      content: [
        { type: 'thinking', thinking: 'Think. ', signature: 'sig' },
        { type: 'text', text: 'Checking now.' },
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
      usage: { input_tokens: 30, output_tokens: 12 },
    });
  });
});

describe('anthropicErrorFrame', () => {
  it('ends a stream with an error event the SDK raises as an APIError of that type', async () => {
    const error = new GatewayError('upstream_error', 'The upstream provider "oai" failed with HTTP 500.');
    const frame = anthropicErrorFrame(error, 'req-1');
    expect(frame).toBe('event: error\ndata: {"type":"error","error":{"type":"api_error","message":"The upstream provider \\"oai\\" failed with HTTP 500."},"request_id":"req-1"}\n\n');
    const failure = await sdkEvents(sseText([chunk({ content: 'partial' })]).split('event: message_delta')[0] + frame).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).type).toBe('api_error');
  });

  it("keeps an Anthropic provider's own error type (overloaded_error), not another provider's", async () => {
    const overloaded = new GatewayError('upstream_error', 'The upstream provider "ant" failed mid-stream (overloaded_error: Overloaded).', { upstreamType: 'overloaded_error' });
    const frame = anthropicErrorFrame(overloaded, 'req-2');
    const failure = await sdkEvents(sseText([chunk({ content: 'partial' })]).split('event: message_delta')[0] + frame).catch((e: unknown) => e);
    expect((failure as APIError).type).toBe('overloaded_error');
    const openai = new GatewayError('upstream_error', 'The upstream provider "oai" failed mid-stream.', { upstreamType: 'server_error' });
    expect(anthropicErrorFrame(openai, 'req-3')).toContain('"type":"api_error"');
  });
});
