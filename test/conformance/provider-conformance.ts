/**
 * The provider conformance suite (DESIGN.md §3.2): one set of cases every provider passes, run
 * through the real gateway with the official OpenAI SDK against the provider's fake upstream
 * (contract.ts). Each case scripts what the upstream answers, asserts what the client sees and,
 * where it matters, what the upstream was asked (read back from the provider's own wire format).
 *
 * Usage rule asserted throughout (src/gateway/types.ts `Usage`): prompt_tokens = input +
 * cacheRead + cacheWrite; cached_tokens = cacheRead; total = prompt + completion.
 */
import type { OpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sdk } from '../helpers/client.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import {
  ERROR_CLASSES,
  TIME_TOOL,
  TINY_PNG,
  WEATHER_TOOL,
  apiError,
  ask,
  collect,
  expectUsage,
  expectedClientError,
  finishReasons,
  gatewayConfig,
  secretsOf,
  streamedText,
  streamedToolCalls,
  upstreamStatusOf,
  type ChatParams,
  type Chunk,
} from './conformance-helpers.js';
import type { ConformanceCapabilities, ConformanceFake, ScriptedFinish, ScriptedReply, ScriptedToolCall } from './contract.js';

export interface ProviderConformanceOptions {
  name: string;
  start: () => Promise<ConformanceFake>;
  capabilities?: ConformanceCapabilities;
}

type Reply = Extract<ScriptedReply, { kind: 'reply' }>;

const WEATHER_CALL: ScriptedToolCall = { id: 'call_weather_01', name: 'get_weather', arguments: '{"city":"Paris"}' };
const TIME_CALL: ScriptedToolCall = { id: 'call_time_02', name: 'get_time', arguments: '{"timezone":"Europe/Paris"}' };
const TOOLS = { tools: [WEATHER_TOOL, TIME_TOOL] };

export function runProviderConformance({ name, start, capabilities = {} }: ProviderConformanceOptions): void {
  const caps = capabilities;

  describe(`provider conformance: ${name}`, () => {
    let fake: ConformanceFake;
    let gateway: Gateway | undefined;
    let client: OpenAI;

    beforeAll(async () => {
      fake = await start();
      gateway = await startGateway(gatewayConfig(fake));
      client = sdk(gateway);
    });
    afterAll(async () => {
      await gateway?.stop();
      await fake?.close();
    });
    beforeEach(() => fake.reset());

    /** Scripts the next answer: a reply with these fields over a plain default. */
    const script = (reply: Partial<Reply>): Reply => {
      const full: Reply = { kind: 'reply', text: 'Hello from the fake.', finish: 'stop', usage: { input: 12, output: 5 }, ...reply };
      fake.enqueue(full);
      return full;
    };
    const chat = (params: ChatParams) => client.chat.completions.create(params).withResponse();
    const stream = async (params: ChatParams, includeUsage = false): Promise<Chunk[]> =>
      collect(await client.chat.completions.create({ ...params, stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) }));
    const upstream = () => fake.lastChatRequest();

    describe('text', () => {
      it('answers text with finish_reason stop, the scripted usage and the provider header; upstream saw prompt and parameters', async () => {
        const reply = script({ text: 'Paris is the capital of France.', usage: { input: 31, output: 9 } });
        const { data, response } = await chat({
          model: 'conf',
          messages: [
            { role: 'system', content: 'You are terse.' },
            { role: 'user', content: 'Capital of France?' },
          ],
          max_tokens: 64,
          temperature: 0.25,
          top_p: 0.5,
          stop: ['END'],
        });
        expect(data.choices).toHaveLength(1);
        expect(data.choices[0]!.message.content).toBe(reply.text);
        expect(data.choices[0]!.finish_reason).toBe('stop');
        expectUsage(data.usage, reply.usage, caps);
        expect(response.headers.get('x-switchyard-provider')).toBe('p');
        expect(response.headers.get('x-switchyard-model')).toBe(fake.model);
        expect(response.headers.get('x-switchyard-attempts')).toBe('1');

        const sent = upstream();
        expect(sent).toMatchObject({ model: fake.model, stream: false, maxTokens: 64, temperature: 0.25, topP: 0.5, stop: ['END'] });
        expect(sent.system).toBe('You are terse.');
        expect(sent.messages).toEqual([{ role: 'user', text: 'Capital of France?', images: 0, toolCalls: [] }]);
        expect(fake.chatRequestCount()).toBe(1);
      });

      it('takes max_completion_tokens as the output limit and invents no sampling parameters', async () => {
        script({});
        await chat(ask('conf', 'Hi', { max_completion_tokens: 32 }));
        const sent = upstream();
        expect(sent.maxTokens).toBe(32);
        expect(sent.temperature).toBeUndefined();
        expect(sent.topP).toBeUndefined();
        expect(sent.stop).toBeUndefined();
        expect(sent.system).toBeUndefined();
      });
    });

    describe('streaming', () => {
      it('streams the text with exactly one finish_reason and, with include_usage, one usage chunk', async () => {
        const reply = script({ text: 'One two three, four five six.', usage: { input: 17, output: 8 } });
        const chunks = await stream(ask('conf', 'Count'), true);
        expect(streamedText(chunks)).toBe(reply.text);
        expect(finishReasons(chunks)).toEqual(['stop']);
        const usageChunks = chunks.filter((c) => c.usage);
        expect(usageChunks).toHaveLength(1);
        expectUsage(usageChunks[0]!.usage, reply.usage, caps);
        expect(upstream()).toMatchObject({ model: fake.model, stream: true });
      });

      it('sends no usage chunk when the client did not ask for it', async () => {
        const reply = script({ text: 'No usage for you.' });
        const chunks = await stream(ask('conf', 'Go'));
        expect(streamedText(chunks)).toBe(reply.text);
        expect(chunks.filter((c) => c.usage != null)).toEqual([]);
        expect(upstream().stream).toBe(true);
      });
    });

    describe('tools', () => {
      const expectCalls = (calls: { id: string; name: string; arguments: string }[], scripted: ScriptedToolCall[]) => {
        expect(calls.map((c) => c.name)).toEqual(scripted.map((c) => c.name));
        calls.forEach((call, i) => {
          expect(call.id).toMatch(/\S/);
          expect(JSON.parse(call.arguments)).toEqual(JSON.parse(scripted[i]!.arguments));
        });
        expect(new Set(calls.map((c) => c.id)).size).toBe(calls.length);
      };

      it('returns a single tool call with finish_reason tool_calls', async () => {
        script({ text: undefined, toolCalls: [WEATHER_CALL], finish: 'tool_calls' });
        const { data } = await chat(ask('conf', 'Weather in Paris?', TOOLS));
        expect(data.choices[0]!.finish_reason).toBe('tool_calls');
        const calls = data.choices[0]!.message.tool_calls ?? [];
        expect(calls.every((c) => c.type === 'function')).toBe(true);
        expectCalls(calls.map((c) => (c.type === 'function' ? { id: c.id, ...c.function } : { id: '', name: '', arguments: '' })), [WEATHER_CALL]);
        expect(upstream().tools).toEqual(['get_weather', 'get_time']);
      });

      it('streams a single tool call whose argument deltas reassemble to the JSON', async () => {
        script({ text: undefined, toolCalls: [WEATHER_CALL], finish: 'tool_calls' });
        const chunks = await stream(ask('conf', 'Weather in Paris?', TOOLS));
        expectCalls(streamedToolCalls(chunks), [WEATHER_CALL]);
        expect(streamedToolCalls(chunks)[0]!.index).toBe(0);
        expect(finishReasons(chunks)).toEqual(['tool_calls']);
      });

      it('returns parallel tool calls, streamed at indexes 0 and 1', async () => {
        script({ text: undefined, toolCalls: [WEATHER_CALL, TIME_CALL], finish: 'tool_calls' });
        const { data } = await chat(ask('conf', 'Weather and time in Paris?', TOOLS));
        const calls = (data.choices[0]!.message.tool_calls ?? []).flatMap((c) => (c.type === 'function' ? [{ id: c.id, ...c.function }] : []));
        expectCalls(calls, [WEATHER_CALL, TIME_CALL]);

        script({ text: undefined, toolCalls: [WEATHER_CALL, TIME_CALL], finish: 'tool_calls' });
        const streamed = streamedToolCalls(await stream(ask('conf', 'Weather and time in Paris?', TOOLS)));
        expect(streamed.map((c) => c.index)).toEqual([0, 1]);
        expectCalls(streamed, [WEATHER_CALL, TIME_CALL]);
      });

      it('sends a tool round trip upstream: the assistant calls, then each result with its call id, in order', async () => {
        const reply = script({ text: 'Sunny, and it is five past two.' });
        const { data } = await chat({
          model: 'conf',
          ...TOOLS,
          messages: [
            { role: 'user', content: 'Weather and time in Paris?' },
            {
              role: 'assistant',
              content: null,
              tool_calls: [WEATHER_CALL, TIME_CALL].map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })),
            },
            { role: 'tool', tool_call_id: WEATHER_CALL.id, content: '18C and sunny' },
            { role: 'tool', tool_call_id: TIME_CALL.id, content: '14:05' },
          ],
        });
        expect(data.choices[0]!.message.content).toBe(reply.text);
        const sent = upstream().messages;
        expect(sent[0]).toMatchObject({ role: 'user', text: 'Weather and time in Paris?' });
        expect(sent[1]).toMatchObject({ role: 'assistant', toolCalls: ['get_weather', 'get_time'] });
        const results = sent.filter((m) => m.role === 'tool');
        expect(results.map((m) => m.toolResultFor)).toEqual([WEATHER_CALL.id, TIME_CALL.id]);
        expect(results[0]!.text).toContain('18C and sunny');
        expect(results[1]!.text).toContain('14:05');
      });

      it.each([
        ['required', 'required'],
        ['none', 'none'],
        [{ type: 'function', function: { name: 'get_time' } }, { name: 'get_time' }],
      ] as const)('passes tool_choice %j upstream', async (toolChoice, expected) => {
        script({});
        await chat(ask('conf', 'Time?', { ...TOOLS, tool_choice: toolChoice }));
        expect(upstream().toolChoice).toEqual(expected);
      });
    });

    it('sends an image_url data: URL upstream as an image', async () => {
      script({ text: 'A single pixel.' });
      const { data } = await chat({
        model: 'conf',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: TINY_PNG } }] }],
      });
      expect(data.choices[0]!.message.content).toBe('A single pixel.');
      expect(upstream().messages).toEqual([{ role: 'user', text: 'What is this?', images: 1, toolCalls: [] }]);
    });

    it.each([
      ['json_object', 'object', { type: 'json_object' }],
      ['json_schema', 'schema', { type: 'json_schema', json_schema: { name: 'city', schema: { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' } } } } }],
    ] as const)('asks for JSON output with response_format %s', async (_label, mode, format) => {
      const json = { city: 'Paris', population: 2102650 };
      script({ text: JSON.stringify(json) });
      const { data } = await chat(ask('conf', 'Paris as JSON', { response_format: format }));
      expect(JSON.parse(data.choices[0]!.message.content ?? '')).toEqual(json);
      expect(upstream().jsonMode).toBe(mode);
    });

    describe('usage with prompt caching', () => {
      const usage = { input: 40, output: 7, cacheRead: 1024, cacheWrite: 256 };
      it.skipIf(!caps.cacheTokens)('reports cache reads as cached_tokens, inside prompt_tokens', async () => {
        script({ usage });
        const { data } = await chat(ask('conf', 'Cached?'));
        expectUsage(data.usage, usage, caps);
      });
      it.skipIf(!caps.cacheTokens)('reports the same usage at the end of a stream', async () => {
        script({ usage });
        const chunks = await stream(ask('conf', 'Cached?'), true);
        expectUsage(chunks.find((c) => c.usage)?.usage, usage, caps);
      });
    });

    it.skipIf(!caps.reasoning)('returns thinking as reasoning_content, streamed and not', async () => {
      script({ text: 'Four.', thinking: 'Two plus two is four.' });
      const { data } = await chat(ask('conf', '2+2?'));
      expect(data.choices[0]!.message).toMatchObject({ content: 'Four.', reasoning_content: 'Two plus two is four.' });
      script({ text: 'Four.', thinking: 'Two plus two is four.' });
      const chunks = await stream(ask('conf', '2+2?'));
      const reasoning = chunks.flatMap((c) => c.choices.map((ch) => (ch.delta as { reasoning_content?: string }).reasoning_content ?? '')).join('');
      expect(reasoning).toBe('Two plus two is four.');
      expect(streamedText(chunks)).toBe('Four.');
    });

    describe('finish reasons', () => {
      const cases: [ScriptedFinish, boolean][] = [['stop', true], ['length', true], ['tool_calls', true], ['content_filter', !!caps.contentFilter]];
      for (const [finish, supported] of cases) {
        const reply: Partial<Reply> = finish === 'tool_calls' ? { text: undefined, toolCalls: [WEATHER_CALL], finish } : { text: 'Cut short here', finish };
        it.skipIf(!supported)(`maps ${finish}, streamed and not`, async () => {
          script(reply);
          const { data } = await chat(ask('conf', 'Go', TOOLS));
          expect(data.choices[0]!.finish_reason).toBe(finish);
          script(reply);
          expect(finishReasons(await stream(ask('conf', 'Go', TOOLS)))).toEqual([finish]);
        });
      }
    });

    describe('upstream HTTP errors', () => {
      const secrets = () => secretsOf(fake);
      for (const errorClass of ERROR_CLASSES) {
        const upstreamStatus = upstreamStatusOf(errorClass, caps);
        const expected = expectedClientError(upstreamStatus, errorClass, caps);
        const message = `Conformance ${errorClass.replace('_', ' ')} failure 4711.`;
        const scriptError = () => fake.enqueue({ kind: 'http-error', errorClass, message, ...(errorClass === 'rate_limit' ? { retryAfterSeconds: 7 } : {}) });

        const upstreamLabel = errorClass === 'overloaded' ? '503/529' : String(upstreamStatus);
        it(`${errorClass} (upstream ${upstreamLabel}) → ${expected.status}, streamed and not`, async () => {
          for (const streaming of [false, true]) {
            scriptError();
            const err = await apiError(() => client.chat.completions.create({ ...ask('conf', 'Fail'), stream: streaming }));
            expect(err.status).toBe(expected.status);
            const body = (err.error ?? {}) as { message?: string };
            expect(body.message).toContain(message);
            if (expected.says) expect(body.message).toMatch(expected.says);
            const seen = JSON.stringify(err.error) + JSON.stringify([...(err.headers ?? new Headers())]);
            for (const secret of secrets()) expect(seen).not.toContain(secret);
            expect(err.headers?.get('x-switchyard-attempts')).toBe('1');
            if (errorClass === 'rate_limit' && caps.retryAfter !== false) expect(Math.abs(Number(err.headers?.get('retry-after')) - 7)).toBeLessThanOrEqual(1);
            if (errorClass === 'rate_limit' && caps.retryAfter === false) expect(err.headers?.get('retry-after')).toBeNull();
          }
          expect(fake.chatRequestCount()).toBe(2);
        });

        it(`${errorClass} on conf-failover ${expected.retryable ? 'fails over to the backup' : 'is final'}`, async () => {
          scriptError();
          if (expected.retryable) {
            const { data, response } = await chat(ask('conf-failover', 'Fail over'));
            expect(data.choices[0]!.message.content).toMatch(/\S/);
            expect(response.headers.get('x-switchyard-attempts')).toBe('2');
            expect(response.headers.get('x-switchyard-provider')).toBe('backup');
          } else {
            const err = await apiError(() => chat(ask('conf-failover', 'Fail over')));
            expect(err.status).toBe(expected.status);
            expect(err.headers?.get('x-switchyard-attempts')).toBe('1');
          }
          expect(fake.chatRequestCount()).toBe(1);
        });
      }
    });

    describe('errors inside a 200 stream', () => {
      it('before any output: fails over to the backup stream', async () => {
        fake.enqueue({ kind: 'stream-error-before-output', message: 'Conformance mid-stream failure.' });
        const { data, response } = await client.chat.completions.create({ ...ask('conf-failover', 'Stream'), stream: true }).withResponse();
        expect(response.headers.get('x-switchyard-attempts')).toBe('2');
        expect(response.headers.get('x-switchyard-provider')).toBe('backup');
        const chunks = await collect(data);
        expect(streamedText(chunks)).toMatch(/\S/);
        expect(finishReasons(chunks)).toHaveLength(1);
      });

      it('before any output with no other target: an HTTP 502 carrying the message', async () => {
        fake.enqueue({ kind: 'stream-error-before-output', message: 'Conformance mid-stream failure.' });
        const err = await apiError(() => stream(ask('conf', 'Stream')));
        expect(err.status).toBe(502);
        expect((err.error as { message?: string }).message).toContain('Conformance mid-stream failure.');
      });

      it('after output: the text so far, then an error event the SDK throws', async () => {
        fake.enqueue({ kind: 'stream-error-after-output', text: 'Partial answer', message: 'Conformance failure after output.' });
        const received: Chunk[] = [];
        const err = await apiError(async () => {
          for await (const chunk of await client.chat.completions.create({ ...ask('conf-failover', 'Stream'), stream: true })) received.push(chunk);
        });
        expect(err.message).toContain('Conformance failure after output.');
        expect(streamedText(received)).toBe('Partial answer');
        expect(fake.chatRequestCount()).toBe(1);
      });
    });

    describe('n > 1', () => {
      it.skipIf(!caps.multipleChoices)('returns n choices', async () => {
        script({ text: 'Same answer.' });
        const { data } = await chat(ask('conf', 'Twice', { n: 2 }));
        expect(data.choices.map((c) => [c.index, c.message.content])).toEqual([[0, 'Same answer.'], [1, 'Same answer.']]);
      });
      it.skipIf(!!caps.multipleChoices)('rejects n > 1 with a 400 before calling the upstream', async () => {
        const err = await apiError(() => chat(ask('conf', 'Twice', { n: 2 })));
        expect(err.status).toBe(400);
        expect(fake.chatRequestCount()).toBe(0);
      });
    });
  });
}
