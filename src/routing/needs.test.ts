import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChatMessage, ChatRequest } from '../gateway/types.js';
import { countTokens, countTokensUpTo } from '../governance/tokens.js';
import type { ModelInfo } from './catalog.js';
import { IMAGE_TOKENS, MESSAGE_ALLOWANCE_TOKENS, PromptSize, REQUEST_ALLOWANCE_TOKENS, TOOLS_ALLOWANCE_TOKENS, needsOf, supports, type RequestNeeds } from './needs.js';

vi.mock('../governance/tokens.js', async (importActual) => {
  const actual = await importActual<typeof import('../governance/tokens.js')>();
  return { ...actual, countTokens: vi.fn(actual.countTokens), countTokensUpTo: vi.fn(actual.countTokensUpTo) };
});

const countTokensSpy = vi.mocked(countTokens);
const countTokensUpToSpy = vi.mocked(countTokensUpTo);

function chat(messages: ChatMessage[], extra: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'm', messages, ...extra };
}

const hello = chat([{ role: 'user', content: 'hello' }]);
const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } };
const weatherTool = { type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

describe('needsOf', () => {
  it('needs nothing for a plain text request', () => {
    expect(needsOf(hello, false)).toEqual({ tools: false, vision: false, jsonSchema: false, streaming: false, maxOutputTokens: undefined });
  });

  it('needs streaming when the request is streamed', () => {
    expect(needsOf(hello, true).streaming).toBe(true);
  });

  it('needs tools for a non-empty tools list or legacy functions, not an empty one', () => {
    expect(needsOf(chat(hello.messages, { tools: [weatherTool] }), false).tools).toBe(true);
    expect(needsOf(chat(hello.messages, { functions: [weatherTool.function] }), false).tools).toBe(true);
    expect(needsOf(chat(hello.messages, { tools: [] }), false).tools).toBe(false);
    expect(needsOf(chat(hello.messages, { tools: null, functions: [] }), false).tools).toBe(false);
  });

  it('needs vision for image_url or input_image parts anywhere in the conversation', () => {
    const earlier: ChatMessage = { role: 'user', content: [{ type: 'text', text: 'what is this?' }, image] };
    expect(needsOf(chat([earlier, { role: 'assistant', content: 'a cat' }, { role: 'user', content: 'sure?' }]), false).vision).toBe(true);
    expect(needsOf(chat([{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x/cat.png' }] }]), false).vision).toBe(true);
    expect(needsOf(chat([{ role: 'user', content: [{ type: 'text', text: 'image_url' }] }, { role: 'assistant', content: null }]), false).vision).toBe(false);
  });

  it('needs JSON-schema output only for response_format json_schema', () => {
    expect(needsOf(chat(hello.messages, { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } }), false).jsonSchema).toBe(true);
    expect(needsOf(chat(hello.messages, { response_format: { type: 'json_object' } }), false).jsonSchema).toBe(false);
    expect(needsOf(chat(hello.messages, { response_format: null }), false).jsonSchema).toBe(false);
  });

  it('reserves max_completion_tokens, else max_tokens', () => {
    expect(needsOf(chat(hello.messages, { max_completion_tokens: 500, max_tokens: 100 }), false).maxOutputTokens).toBe(500);
    expect(needsOf(chat(hello.messages, { max_tokens: 100 }), false).maxOutputTokens).toBe(100);
    expect(needsOf(chat(hello.messages, { max_completion_tokens: null, max_tokens: 100 }), false).maxOutputTokens).toBe(100);
    expect(needsOf(chat(hello.messages, { max_completion_tokens: null, max_tokens: null }), false).maxOutputTokens).toBeUndefined();
  });
});

describe('supports', () => {
  const everything: RequestNeeds = { tools: true, vision: true, jsonSchema: true, streaming: true, maxOutputTokens: 10 };
  const nothing: RequestNeeds = { tools: false, vision: false, jsonSchema: false, streaming: false, maxOutputTokens: undefined };
  const info = (capabilities: ModelInfo['capabilities']): ModelInfo => ({ capabilities, source: 'unknown' });

  it('treats unknown capabilities as supported', () => {
    expect(supports(info({}), everything)).toBe(true);
  });

  it('refuses a target lacking a capability the request needs, and only then', () => {
    for (const [capability, need] of [['tools', 'tools'], ['vision', 'vision'], ['jsonSchema', 'jsonSchema'], ['streaming', 'streaming']] as const) {
      expect(supports(info({ [capability]: false }), { ...nothing, [need]: true })).toBe(false);
      expect(supports(info({ [capability]: false }), nothing)).toBe(true);
      expect(supports(info({ [capability]: true }), everything)).toBe(true);
    }
  });

  it('never sends a chat request to a model that cannot chat', () => {
    expect(supports(info({ chat: false }), nothing)).toBe(false);
  });
});

describe('PromptSize', () => {
  beforeEach(() => {
    countTokensSpy.mockClear();
  });

  const oneMessageAllowance = REQUEST_ALLOWANCE_TOKENS + MESSAGE_ALLOWANCE_TOKENS;

  it('bounds the prompt by its UTF-8 bytes plus the fixed allowances', () => {
    expect(new PromptSize(chat([{ role: 'user', content: 'héllo' }])).upperBound()).toBe(6 + oneMessageAllowance);
  });

  it('counts every text the upstream reads: parts, names, tool calls and results, reasoning, tools and schemas', () => {
    const tool = { ...weatherTool };
    const schema = { name: 's', schema: { type: 'object' } };
    const request = chat(
      [
        { role: 'system', content: 'be brief', name: 'ops' },
        { role: 'user', content: [{ type: 'text', text: 'weather?' }, image] },
        { role: 'assistant', content: null, reasoning_content: 'call it', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'rain' },
      ],
      { tools: [tool], response_format: { type: 'json_schema', json_schema: schema } },
    );
    const text = ['be brief', 'ops', 'weather?', 'call it', 'weather', '{"city":"Oslo"}', 'c1', 'rain', JSON.stringify([tool]), JSON.stringify(schema)].join('');
    const allowance = REQUEST_ALLOWANCE_TOKENS + 4 * MESSAGE_ALLOWANCE_TOKENS + IMAGE_TOKENS + TOOLS_ALLOWANCE_TOKENS;
    const size = new PromptSize(request);
    expect(size.upperBound()).toBe(Buffer.byteLength(text) + allowance);
    expect(size.tokens()).toBeLessThan(size.upperBound());
  });

  it('never counts more tokens than the upper bound allows, whatever the script', () => {
    for (const content of ['plain English prose, with punctuation.', '日本語のテキストです。', '🙂🚀🎉 emoji', 'x'.repeat(5000), '{"a":[1,2,3]}']) {
      const size = new PromptSize(chat([{ role: 'user', content }]));
      expect(size.tokens()).toBeLessThanOrEqual(size.upperBound());
    }
  });

  it('counts tokens as the tokenizer does, plus the allowances', () => {
    const content = 'The quick brown fox jumps over the lazy dog. '.repeat(20);
    expect(new PromptSize(chat([{ role: 'user', content }])).tokens()).toBe(countTokens(content) + oneMessageAllowance);
  });

  it('estimates from bytes until tokens are counted, then uses the count', () => {
    const content = 'abcd'.repeat(100);
    const size = new PromptSize(chat([{ role: 'user', content }]));
    expect(size.estimate()).toBe(100 + oneMessageAllowance);
    expect(countTokensSpy).not.toHaveBeenCalled();
    const tokens = size.tokens();
    expect(size.estimate()).toBe(tokens);
  });

  it('decides a small prompt fits without loading the tokenizer', () => {
    const size = new PromptSize(chat([{ role: 'user', content: 'hi '.repeat(1000) }], { tools: [weatherTool] }));
    expect(size.fits(128_000, 4096)).toBe(true);
    expect(size.fits(size.upperBound() + 10, 10)).toBe(true);
    expect(countTokensSpy).not.toHaveBeenCalled();
  });

  it('counts tokens when the bound cannot decide, and fits exactly up to the window', () => {
    const content = 'hello world, '.repeat(2000); // ~26 KB of text, a few thousand tokens
    const size = new PromptSize(chat([{ role: 'user', content }]));
    const tokens = countTokens(content) + oneMessageAllowance;
    countTokensUpToSpy.mockClear();
    const window = tokens + 1000;
    expect(size.upperBound()).toBeGreaterThan(window);

    expect(size.fits(window, 1000)).toBe(true);
    expect(size.fits(window, 1001)).toBe(false);
    expect(size.fits(window - 1, 1000)).toBe(false);
    expect(countTokensUpToSpy).toHaveBeenCalledTimes(1); // counted once, then remembered
    expect(size.tokens()).toBe(tokens);
  });

  it('stops counting once past the room: a prompt far over the window is not tokenized in full', () => {
    const content = 'hello world, '.repeat(20_000); // ~60,000 tokens
    const size = new PromptSize(chat([{ role: 'user', content }]));
    countTokensUpToSpy.mockClear();
    expect(size.fits(2_000, 100)).toBe(false);
    const counted = countTokensUpToSpy.mock.results[0]!.value as number;
    expect(counted).toBeGreaterThan(2_000 - 100 - oneMessageAllowance);
    expect(counted).toBeLessThan(3_000);
    // Not remembered as the count: tokens() counts in full when asked.
    expect(size.tokens()).toBe(countTokens(content) + oneMessageAllowance);
  });

  it('counts each image at the fixed allowance', () => {
    const withImages = new PromptSize(chat([{ role: 'user', content: [image, image, { type: 'text', text: 'compare' }] }]));
    const textOnly = new PromptSize(chat([{ role: 'user', content: [{ type: 'text', text: 'compare' }] }]));
    expect(withImages.upperBound() - textOnly.upperBound()).toBe(2 * IMAGE_TOKENS);
    expect(withImages.tokens() - textOnly.tokens()).toBe(2 * IMAGE_TOKENS);
  });
});
