import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../gateway/types.js';
import { withoutExtensions } from './extensions.js';

describe('withoutExtensions', () => {
  it('returns the very same request when it carries no extension (no copy on the hot path)', () => {
    const request: ChatRequest = {
      model: 'm',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      ],
      tools: [{ type: 'function', function: { name: 'f' } }],
      seed: 3,
    };
    expect(withoutExtensions(request)).toBe(request);
  });

  it('drops thinking, top_k, cache_control, thinking_blocks and reasoning_content, keeping everything else', () => {
    const request: ChatRequest = {
      model: 'm',
      thinking: { type: 'enabled', budget_tokens: 2048 },
      top_k: 5,
      seed: 3,
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Long context', cache_control: { type: 'ephemeral' } }] },
        { role: 'user', content: 'Question' },
        {
          role: 'assistant',
          content: 'Answer',
          reasoning_content: 'Let me think',
          thinking_blocks: [{ type: 'thinking', thinking: 'Let me think', signature: 'sig' }],
        },
      ],
      tools: [{ type: 'function', function: { name: 'f' }, cache_control: { type: 'ephemeral' } }],
    };
    const snapshot = structuredClone(request);
    expect(withoutExtensions(request)).toEqual({
      model: 'm',
      seed: 3,
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Long context' }] },
        { role: 'user', content: 'Question' },
        { role: 'assistant', content: 'Answer' },
      ],
      tools: [{ type: 'function', function: { name: 'f' } }],
    });
    // A retry on another target translates the same request again: the input is left as it was.
    expect(request).toEqual(snapshot);
  });

  it("drops a tool call's extra_content (a Gemini thought signature from an earlier turn), keeping the call", () => {
    const call = { id: 'call_1', type: 'function' as const, function: { name: 'f', arguments: '{}' } };
    const request: ChatRequest = {
      model: 'm',
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ ...call, extra_content: { google: { thought_signature: 'c2ln' } } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
    };
    const snapshot = structuredClone(request);
    expect(withoutExtensions(request).messages[1]).toEqual({ role: 'assistant', content: null, tool_calls: [call] });
    expect(request).toEqual(snapshot);
  });

  it('copies only the messages that change', () => {
    const untouched = { role: 'user', content: 'plain' };
    const request: ChatRequest = { model: 'm', messages: [untouched, { role: 'assistant', content: 'x', reasoning_content: 'r' }] };
    const cleaned = withoutExtensions(request);
    expect(cleaned.messages[0]).toBe(untouched);
    expect(cleaned.messages[1]).toEqual({ role: 'assistant', content: 'x' });
  });
});
