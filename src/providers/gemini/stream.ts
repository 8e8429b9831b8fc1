/**
 * Gemini SSE stream (streamGenerateContent?alt=sse) → canonical chunks. Each event is a whole
 * GenerateContentResponse holding the next parts of each candidate; function calls arrive
 * complete, so each becomes one tool_calls delta with all its arguments. usageMetadata is
 * cumulative (every event repeats the running totals): the last one becomes the usage trailer.
 */
import type { ChatCompletionChunk, ChunkChoice, ChunkToolCallDelta } from '../../gateway/types.js';
import { readSse } from '../sse.js';
import { parseStreamEvent } from '../upstream-json.js';
import type { GeminiCandidate, GeminiPromptFeedback, GeminiResponse, GeminiUsageMetadata } from './api.js';
import { blockedText, candidatesOf, failedCallError, filteredText, toLogprobs, finishReasonOf, idSeed, inStreamError, indexOf, malformed, partsOf, toToolCall, toUsage } from './response.js';

interface ChoiceState {
  started: boolean;
  calls: number;
  finished: boolean;
}

/** The state of one stream: ids, which choices started and finished, the latest usage. */
export class GeminiStreamTranslator {
  readonly #provider: string;
  readonly #upstreamModel: string;
  readonly #created = Math.floor(Date.now() / 1000);
  readonly #choices = new Map<number, ChoiceState>();
  #id = '';
  #model = '';
  #seed = '';
  #usage: GeminiUsageMetadata | undefined;
  #blocked = false;

  constructor(upstreamModel: string, provider: string) {
    this.#upstreamModel = upstreamModel;
    this.#provider = provider;
  }

  /** The chunks one stream event becomes (usually one; none for a usage-only event). */
  event(response: GeminiResponse): ChatCompletionChunk[] {
    if (response.error) throw inStreamError(response.error, this.#provider);
    if (this.#id === '') {
      this.#seed = idSeed(response.responseId);
      this.#id = response.responseId ?? `chatcmpl-${this.#seed}`;
      this.#model = response.modelVersion ?? this.#upstreamModel;
    }
    if (response.usageMetadata && typeof response.usageMetadata === 'object') this.#usage = response.usageMetadata;
    const candidates = candidatesOf(response);
    if (candidates.length === 0) {
      if (response.promptFeedback?.blockReason && !this.#blocked) return [this.#chunk(this.#blockedChoice(response.promptFeedback))];
      return [];
    }
    const chunks: ChatCompletionChunk[] = [];
    candidates.forEach((candidate, position) => {
      const choice = this.#candidateChoice(candidate, indexOf(candidate, position));
      if (choice) chunks.push(this.#chunk(choice));
    });
    return chunks;
  }

  /** At the end of the body: the usage trailer; a stream that never finished is a failure. */
  end(): ChatCompletionChunk | undefined {
    const complete = this.#blocked || (this.#choices.size > 0 && [...this.#choices.values()].every((state) => state.finished));
    if (!complete) throw malformed(this.#provider, 'a stream that ended before it was complete (no finishReason)');
    if (!this.#usage) return undefined;
    return { id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model, choices: [], usage: toUsage(this.#usage) };
  }

  #candidateChoice(candidate: GeminiCandidate, index: number): ChunkChoice | undefined {
    let state = this.#choices.get(index);
    if (!state) {
      state = { started: false, calls: 0, finished: false };
      this.#choices.set(index, state);
    }
    // The role goes out with the choice's first output, not before: an event with nothing in it
    // (no parts, or an empty text part carrying only a thought signature) sends no chunk, so a
    // failure or a silence after it still fails over and the first-chunk timeout still applies.
    const first = !state.started;
    const delta: ChunkChoice['delta'] = first ? { role: 'assistant' } : {};
    let empty = true;
    let content: string | undefined;
    let reasoning: string | undefined;
    let toolCalls: ChunkToolCallDelta[] | undefined;
    for (const part of partsOf(candidate)) {
      if (typeof part.text === 'string') {
        if (part.thought === true) reasoning = reasoning === undefined ? part.text : reasoning + part.text;
        else content = content === undefined ? part.text : content + part.text;
      } else if (part.functionCall) {
        const call = toToolCall(part.functionCall, part.thoughtSignature, this.#seed, index, state.calls, this.#provider);
        const callDelta: ChunkToolCallDelta & { extra_content?: unknown } = { index: state.calls, id: call.id, type: 'function', function: call.function };
        if (call.extra_content) callDelta.extra_content = call.extra_content;
        (toolCalls ??= []).push(callDelta);
        state.calls += 1;
      }
    }
    if (content !== undefined || first) {
      delta.content = content ?? '';
      if (content) empty = false;
    }
    if (reasoning !== undefined) {
      delta.reasoning_content = reasoning;
      if (reasoning) empty = false;
    }
    if (toolCalls) {
      delta.tool_calls = toolCalls;
      empty = false;
    }
    const logprobs = toLogprobs(candidate.logprobsResult);
    const native = typeof candidate.finishReason === 'string' ? candidate.finishReason : undefined;
    if (!native) {
      if (empty) return undefined;
      state.started = true;
      return logprobs ? { index, delta, finish_reason: null, logprobs } : { index, delta, finish_reason: null };
    }
    const failedCall = failedCallError(native, candidate.finishMessage, this.#provider);
    if (failedCall) throw failedCall;
    state.finished = true;
    state.started = true;
    const finish = finishReasonOf(native, state.calls > 0);
    if (finish === 'content_filter') delta.refusal = filteredText(native, candidate.finishMessage);
    const choice: ChunkChoice = { index, delta, finish_reason: finish, native_finish_reason: native };
    if (logprobs) choice.logprobs = logprobs;
    return choice;
  }

  #blockedChoice(feedback: GeminiPromptFeedback): ChunkChoice {
    this.#blocked = true;
    return { index: 0, delta: { role: 'assistant', content: '', refusal: blockedText(feedback) }, finish_reason: 'content_filter', native_finish_reason: feedback.blockReason };
  }

  #chunk(choice: ChunkChoice): ChatCompletionChunk {
    return { id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model, choices: [choice] };
  }
}

export async function* decodeGeminiStream(body: AsyncIterable<Uint8Array>, upstreamModel: string, provider: string): AsyncGenerator<ChatCompletionChunk> {
  const translator = new GeminiStreamTranslator(upstreamModel, provider);
  for await (const event of readSse(body)) {
    const data = event.data;
    if (data === '' || data === '[DONE]') continue;
    const value = parseStreamEvent(data, provider);
    for (const chunk of translator.event(value as GeminiResponse)) yield chunk;
  }
  const trailer = translator.end();
  if (trailer) yield trailer;
}
