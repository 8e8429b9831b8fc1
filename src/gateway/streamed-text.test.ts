import { describe, expect, it } from 'vitest';
import { answerChars, streamedChars, streamedTokens } from './streamed-text.js';

describe('streamedChars', () => {
  it('counts OpenAI chunks: content, reasoning and tool call arguments of every choice', () => {
    const chunk = {
      choices: [
        { index: 0, delta: { content: 'Hello', reasoning_content: 'hmm' } },
        { index: 1, delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }, { index: 1, function: { name: 'f' } }] } },
      ],
    };
    expect(streamedChars(chunk)).toBe(5 + 3 + 7);
  });

  it('counts Anthropic events: text, JSON and thinking deltas', () => {
    expect(streamedChars({ name: 'content_block_delta', value: { type: 'content_block_delta', delta: { type: 'text_delta', text: 'Bonjour' } } })).toBe(7);
    expect(streamedChars({ name: 'content_block_delta', value: { delta: { type: 'input_json_delta', partial_json: '{"x"' } } })).toBe(4);
    expect(streamedChars({ name: 'content_block_delta', value: { delta: { type: 'thinking_delta', thinking: 'so' } } })).toBe(2);
  });

  it('finds nothing in chunks without text (roles, finish reasons, usage, pings)', () => {
    expect(streamedChars({ choices: [{ delta: { role: 'assistant' } }] })).toBe(0);
    expect(streamedChars({ choices: [], usage: { prompt_tokens: 1 } })).toBe(0);
    expect(streamedChars({ name: 'ping', value: { type: 'ping' } })).toBe(0);
  });
});

describe('streamedTokens', () => {
  it('rounds up at about 4 characters a token', () => {
    expect(streamedTokens(0)).toBe(0);
    expect(streamedTokens(1)).toBe(1);
    expect(streamedTokens(8)).toBe(2);
    expect(streamedTokens(9)).toBe(3);
  });
});

describe('answerChars', () => {
  it("counts a whole answer's text as a stream's would be counted", () => {
    const completion = {
      choices: [
        { message: { content: 'Hello', reasoning_content: 'abc', tool_calls: [{ function: { arguments: '{"a":1}' } }] } },
        { message: { content: null } },
      ],
    };
    expect(answerChars(completion)).toBe(5 + 3 + 7);
    const message = { content: [{ type: 'text', text: 'Hi!' }, { type: 'thinking', thinking: 'hm' }, { type: 'tool_use', input: { a: 1 } }] };
    expect(answerChars(message)).toBe(3 + 2 + '{"a":1}'.length);
    expect(answerChars(null)).toBe(0);
    expect(answerChars({ choices: [null] })).toBe(0);
  });
});
