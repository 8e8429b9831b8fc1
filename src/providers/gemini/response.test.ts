import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import type { GeminiResponse } from './api.js';
import { parseGeminiJson, toChatCompletion, upstreamHttpError } from './response.js';

const fixtureText = (name: string): string => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8');
const decode = (name: string) => toChatCompletion(parseGeminiJson<GeminiResponse>(fixtureText(name), 'gem'), 'gemini-2.5-flash', 'gem');

describe('toChatCompletion: recorded Gemini answers', () => {
  it('decodes a text answer: id, model, message, finish reason and usage', () => {
    const completion = decode('generate-content-text.json');
    expect(completion).toMatchObject({ id: 'Qx9BaaS3MpXrvdIPx8_wqAQ', object: 'chat.completion', model: 'gemini-2.5-flash' });
    expect(typeof completion.created).toBe('number');
    expect(completion.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'Bonjour ! こんにちは 👋 Ça va ? <b>bien</b>' }, finish_reason: 'stop', native_finish_reason: 'STOP' },
    ]);
    expect(completion.usage).toEqual({ prompt_tokens: 9, completion_tokens: 14, total_tokens: 23, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } });
  });

  it('puts thought parts into reasoning_content and counts thought and cached tokens', () => {
    const completion = decode('generate-content-thinking.json');
    const message = completion.choices[0]!.message;
    expect(message.content).toBe('There are **3** r\'s in "strawberry".');
    expect(message.reasoning_content).toMatch(/^\*\*Counting the letters\*\*/);
    expect(message.content).not.toContain('Counting');
    expect(completion.model).toBe('gemini-2.5-pro');
    // candidates 12 + thoughts 227 = 239 output tokens; 2048 of the 2150 prompt tokens came from the cache.
    expect(completion.usage).toEqual({ prompt_tokens: 2150, completion_tokens: 239, total_tokens: 2389, prompt_tokens_details: { cached_tokens: 2048 }, completion_tokens_details: { reasoning_tokens: 227 } });
  });

  it('maps function calls to tool_calls with stable synthesized ids and the thought signature', () => {
    const completion = decode('generate-content-function-calls.json');
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const signature = (JSON.parse(fixtureText('generate-content-function-calls.json')) as { candidates: { content: { parts: { thoughtSignature?: string }[] } }[] }).candidates[0]!.content.parts[0]!.thoughtSignature;
    expect(choice.message.tool_calls).toEqual([
      { id: 'call_qpc2afWVFJK4vr0Pq6WiyAU_0_0', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris","unit":"celsius"}' }, extra_content: { google: { thought_signature: signature } } },
      { id: 'call_qpc2afWVFJK4vr0Pq6WiyAU_0_1', type: 'function', function: { name: 'get_time', arguments: '{"timezone":"Europe/Paris"}' } },
    ]);
    // Decoding the same answer again gives the same ids.
    expect(decode('generate-content-function-calls.json').choices[0]!.message.tool_calls).toEqual(choice.message.tool_calls);
  });

  it('keeps the ids Gemini gave its function calls', () => {
    const completion = toChatCompletion({ candidates: [{ content: { parts: [{ functionCall: { id: 'fc-1', name: 'f', args: { a: 1 } } }] }, finishReason: 'STOP' }] }, 'm', 'gem');
    expect(completion.choices[0]!.message.tool_calls![0]!.id).toBe('fc-1');
  });

  it('turns a blocked prompt into a content_filter answer that says why', () => {
    const completion = decode('generate-content-prompt-blocked.json');
    expect(completion.choices).toEqual([
      {
        index: 0,
        message: { role: 'assistant', content: '', refusal: 'Gemini blocked the prompt (blockReason PROHIBITED_CONTENT).' },
        finish_reason: 'content_filter',
        native_finish_reason: 'PROHIBITED_CONTENT',
      },
    ]);
    expect(completion.usage).toMatchObject({ prompt_tokens: 1071, completion_tokens: 0, total_tokens: 1071 });
  });

  it('maps SAFETY to content_filter (no content) and MAX_TOKENS to length', () => {
    const safety = decode('generate-content-safety.json').choices[0]!;
    expect(safety).toMatchObject({ finish_reason: 'content_filter', native_finish_reason: 'SAFETY', message: { content: '', refusal: 'Gemini stopped the answer (finishReason SAFETY).' } });
    const length = decode('generate-content-max-tokens.json').choices[0]!;
    expect(length).toMatchObject({ finish_reason: 'length', native_finish_reason: 'MAX_TOKENS', message: { content: 'Once upon a time, in a quaint' } });
  });

  it.each(['RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY'])('maps %s to content_filter', (reason) => {
    expect(toChatCompletion({ candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: reason }] }, 'm', 'gem').choices[0]!.finish_reason).toBe('content_filter');
  });

  it.each(['OTHER', 'LANGUAGE'])('maps %s to stop, keeping the native reason', (reason) => {
    const choice = toChatCompletion({ candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: reason }] }, 'm', 'gem').choices[0]!;
    expect(choice).toMatchObject({ finish_reason: 'stop', native_finish_reason: reason });
  });

  it.each(['MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL'])('fails an answer that stopped on %s as a retryable 502, not an empty "stop"', (reason) => {
    // As Gemini sends it: no content, the broken call in finishMessage.
    const response = { candidates: [{ content: {}, finishReason: reason, finishMessage: 'Malformed function call: print(default_api.get_weather(city="Paris"' }], usageMetadata: { promptTokenCount: 90, totalTokenCount: 90 } };
    let error: unknown;
    try {
      toChatCompletion(response, 'm', 'gem');
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, provider: 'gem' });
    expect((error as GatewayError).message).toBe(`The upstream provider "gem" could not produce a valid tool call (finishReason ${reason}): Malformed function call: print(default_api.get_weather(city="Paris"`);
  });

  it("turns logprobsResult into OpenAI's logprobs: each chosen token with its step's top candidates", () => {
    const logprobsResult = {
      topCandidates: [{ candidates: [{ token: 'Hi', tokenId: 1, logProbability: -0.1 }, { token: 'Hey', tokenId: 2, logProbability: -2.5 }] }, { candidates: [{ token: ' é', tokenId: 3, logProbability: -0.01 }] }],
      chosenCandidates: [{ token: 'Hi', tokenId: 1, logProbability: -0.1 }, { token: ' é', tokenId: 3, logProbability: -0.01 }],
      logProbabilitySum: -0.11,
    };
    const choice = toChatCompletion({ candidates: [{ content: { parts: [{ text: 'Hi é' }] }, finishReason: 'STOP', logprobsResult }] }, 'm', 'gem').choices[0]!;
    expect(choice.logprobs).toEqual({
      content: [
        { token: 'Hi', logprob: -0.1, bytes: [72, 105], top_logprobs: [{ token: 'Hi', logprob: -0.1, bytes: [72, 105] }, { token: 'Hey', logprob: -2.5, bytes: [72, 101, 121] }] },
        { token: ' é', logprob: -0.01, bytes: [32, 195, 169], top_logprobs: [{ token: ' é', logprob: -0.01, bytes: [32, 195, 169] }] },
      ],
      refusal: null,
    });
    expect(toChatCompletion({ candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: 'STOP' }] }, 'm', 'gem').choices[0]).not.toHaveProperty('logprobs');
  });

  it('decodes several candidates into choices ordered by index', () => {
    const completion = decode('generate-content-two-candidates.json');
    expect(completion.choices.map((c) => [c.index, c.message.content])).toEqual([
      [0, 'Blue.'],
      [1, 'Green.'],
    ]);
    const reversed = toChatCompletion({ candidates: [{ index: 1, content: { parts: [{ text: 'b' }] }, finishReason: 'STOP' }, { content: { parts: [{ text: 'a' }] }, finishReason: 'STOP', index: 0 }] }, 'm', 'gem');
    expect(reversed.choices.map((c) => c.message.content)).toEqual(['a', 'b']);
  });

  it('falls back to the upstream model and a generated id when Gemini sends neither', () => {
    const completion = toChatCompletion({ candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: 'STOP' }] }, 'gemini-2.0-flash', 'gem');
    expect(completion.model).toBe('gemini-2.0-flash');
    expect(completion.id).toMatch(/^chatcmpl-[A-Za-z0-9_-]+$/);
    expect(completion).not.toHaveProperty('usage');
  });

  it('turns unreadable answers into 502s, never a TypeError', () => {
    const failures: unknown[] = [];
    for (const text of ['<html>oops</html>', '[1,2]', 'null', '{"candidates":[]}', '{"candidates":"x"}', '{"candidates":[null]}', '{"candidates":[{"content":{"parts":[{"functionCall":{"args":{}}}]}}]}']) {
      try {
        toChatCompletion(parseGeminiJson<GeminiResponse>(text, 'gem'), 'm', 'gem');
      } catch (err) {
        failures.push(err);
      }
    }
    expect(failures).toHaveLength(7);
    for (const err of failures) expect(err).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
  });

  it('is lenient about odd but readable parts', () => {
    const completion = toChatCompletion({ candidates: [{ content: { parts: [null, { text: 'a' }, 'junk', { text: 'b' }] as never }, finishReason: 'STOP', index: -3 }] }, 'm', 'gem');
    expect(completion.choices[0]).toMatchObject({ index: 0, message: { content: 'ab' } });
  });
});

describe('upstreamHttpError: Google error bodies', () => {
  const error = (status: number, name: string, headers: Record<string, string> = {}) => upstreamHttpError(status, fixtureText(name), headers, 'gem');

  it('passes a 400 INVALID_ARGUMENT on with Google\'s message and status', () => {
    const err = error(400, 'error-400-invalid-argument.json');
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'upstream_client_error', status: 400, retryable: false, upstreamType: 'INVALID_ARGUMENT' });
    expect(err.message).toContain('max_output_tokens must be positive');
  });

  it('treats a refused API key (400 API_KEY_INVALID) as the gateway\'s credentials: a redacted, retryable 502', () => {
    const err = error(400, 'error-400-api-key-invalid.json');
    expect(err).toMatchObject({ code: 'upstream_error', status: 502, retryable: true, upstreamCode: undefined });
    expect(err.message).toContain('refused the gateway\'s credentials');
    const leaked = upstreamHttpError(400, JSON.stringify({ error: { code: 400, message: 'API key not valid: AIzaSyA-1234567890abcdefghijklmnop', status: 'INVALID_ARGUMENT' } }), {}, 'gem');
    expect(leaked.status).toBe(502);
    expect(leaked.message).not.toContain('AIzaSy');
  });

  it('maps 403 PERMISSION_DENIED to the credentials 502 and 404 NOT_FOUND to a 404', () => {
    expect(error(403, 'error-403-permission-denied.json')).toMatchObject({ code: 'upstream_error', status: 502 });
    const notFound = error(404, 'error-404-not-found.json');
    expect(notFound).toMatchObject({ code: 'upstream_client_error', status: 404, upstreamType: 'NOT_FOUND' });
    expect(notFound.message).toContain('models/gemini-9-ultra is not found');
  });

  it('keeps the retry delay of a 429 RESOURCE_EXHAUSTED from its RetryInfo', () => {
    const err = error(429, 'error-429-resource-exhausted.json');
    expect(err).toMatchObject({ code: 'upstream_rate_limited', status: 429, retryable: true, retryAfterMs: 7000, upstreamType: 'RESOURCE_EXHAUSTED' });
    // A Retry-After header, when there is one, wins.
    expect(error(429, 'error-429-resource-exhausted.json', { 'retry-after': '3' }).retryAfterMs).toBe(3000);
    const fractional = upstreamHttpError(429, JSON.stringify({ error: { code: 429, status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.25s' }] } }), {}, 'gem');
    expect(fractional.retryAfterMs).toBe(1250);
  });

  it('maps 500 INTERNAL and 503 UNAVAILABLE to retryable 502s with Google\'s message', () => {
    expect(error(500, 'error-500-internal.json')).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    const overloaded = error(503, 'error-503-unavailable.json');
    expect(overloaded).toMatchObject({ code: 'upstream_error', status: 502, retryable: true });
    expect(overloaded.message).toContain('The model is overloaded');
  });

  it('reads the one-element array Google sends for stream errors, and survives bodies that are not JSON', () => {
    const arrayBody = JSON.stringify([{ error: { code: 400, message: 'Bad thing', status: 'INVALID_ARGUMENT' } }]);
    expect(upstreamHttpError(400, arrayBody, {}, 'gem')).toMatchObject({ status: 400, message: 'Bad thing' });
    expect(upstreamHttpError(502, '<html><body>Bad Gateway</body></html>', {}, 'gem')).toMatchObject({ status: 502, message: 'The upstream provider "gem" failed with HTTP 502.' });
    expect(upstreamHttpError(400, '{"error":"nope"}', {}, 'gem')).toMatchObject({ status: 400 });
  });
});
