/**
 * Gemini answers and error bodies → canonical completions and classified GatewayErrors.
 *
 * - candidates → choices (by `index`); text parts are the content, `thought: true` parts the
 *   `reasoning_content`, functionCall parts `tool_calls` (arguments = JSON of `args`).
 * - Gemini's own finish reason is kept on each choice as `native_finish_reason` (OpenRouter's
 *   name), so a client can tell SAFETY from RECITATION; filtered answers also get a `refusal` text.
 * - A prompt blocked before any candidate (`promptFeedback.blockReason`) is a normal answer with
 *   finish_reason `content_filter`, empty content and the reason in `refusal`.
 * - Function calls without an id get `call_<responseId>_<candidate>_<n>`: unique per answer (agents
 *   key tool results by id across a conversation) and the same on every decode of that answer.
 */
import { randomBytes } from 'node:crypto';
import { GatewayError } from '../../gateway/errors.js';
import type { ChatChoice, ChatCompletion, ChatMessage, FinishReason, ToolCall, Usage } from '../../gateway/types.js';
import { plainErrorText, upstreamStatusError, type HeaderValue, type UpstreamErrorDetail } from '../upstream-errors.js';
import { parseResponseBody } from '../upstream-json.js';
import type { GeminiCandidate, GeminiError, GeminiFunctionCall, GeminiLogprobsCandidate, GeminiLogprobsResult, GeminiPart, GeminiPromptFeedback, GeminiResponse, GeminiUsageMetadata } from './api.js';

/** Parses a 2xx JSON body; anything unreadable is an upstream failure (502, retryable). */
export function parseGeminiJson<T extends object>(text: string, provider: string): T {
  return parseResponseBody(text, provider) as T;
}

export function toChatCompletion(response: GeminiResponse, upstreamModel: string, provider: string): ChatCompletion {
  if (response.error) throw inStreamError(response.error, provider);
  const seed = idSeed(response.responseId);
  const candidates = candidatesOf(response);
  let choices: ChatChoice[];
  if (candidates.length > 0) {
    choices = candidates.map((candidate, position) => candidateChoice(candidate, indexOf(candidate, position), seed, provider));
    choices.sort((a, b) => a.index - b.index);
  } else if (response.promptFeedback?.blockReason) {
    choices = [blockedChoice(response.promptFeedback)];
  } else {
    throw malformed(provider, 'an answer without candidates');
  }
  const completion: ChatCompletion = {
    id: response.responseId ?? `chatcmpl-${seed}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: response.modelVersion ?? upstreamModel,
    choices,
  };
  if (response.usageMetadata) completion.usage = toUsage(response.usageMetadata);
  return completion;
}

function candidateChoice(candidate: GeminiCandidate, index: number, seed: string, provider: string): ChatChoice {
  let text = '';
  let reasoning: string | undefined;
  const toolCalls: ToolCall[] = [];
  for (const part of partsOf(candidate)) {
    if (typeof part.text === 'string') {
      if (part.thought === true) reasoning = (reasoning ?? '') + part.text;
      else text += part.text;
    } else if (part.functionCall) {
      toolCalls.push(toToolCall(part.functionCall, part.thoughtSignature, seed, index, toolCalls.length, provider));
    }
  }
  const native = typeof candidate.finishReason === 'string' ? candidate.finishReason : undefined;
  const failedCall = failedCallError(native, candidate.finishMessage, provider);
  if (failedCall) throw failedCall;
  const finish = finishReasonOf(native ?? 'STOP', toolCalls.length > 0);
  const message: ChatMessage = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text };
  if (reasoning !== undefined) message.reasoning_content = reasoning;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (finish === 'content_filter') message.refusal = filteredText(native!, candidate.finishMessage);
  const choice: ChatChoice = { index, message, finish_reason: finish };
  if (native) choice.native_finish_reason = native;
  const logprobs = toLogprobs(candidate.logprobsResult);
  if (logprobs) choice.logprobs = logprobs;
  return choice;
}

interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

/**
 * Gemini's logprobsResult (asked for with responseLogprobs / logprobs) → OpenAI's `logprobs`:
 * one entry per chosen token, with that step's top candidates; undefined when there is none.
 */
export function toLogprobs(result: GeminiLogprobsResult | null | undefined): { content: (TokenLogprob & { top_logprobs: TokenLogprob[] })[]; refusal: null } | undefined {
  const chosen = result?.chosenCandidates;
  if (!Array.isArray(chosen)) return undefined;
  const top = Array.isArray(result!.topCandidates) ? result!.topCandidates : [];
  const content = chosen.map((candidate, step) => {
    const alternatives = top[step]?.candidates;
    return { ...tokenLogprob(candidate), top_logprobs: Array.isArray(alternatives) ? alternatives.map(tokenLogprob) : [] };
  });
  return { content, refusal: null };
}

function tokenLogprob(candidate: GeminiLogprobsCandidate | null | undefined): TokenLogprob {
  const token = typeof candidate?.token === 'string' ? candidate.token : '';
  const logprob = typeof candidate?.logProbability === 'number' ? candidate.logProbability : 0;
  return { token, logprob, bytes: [...Buffer.from(token, 'utf8')] };
}

function blockedChoice(feedback: GeminiPromptFeedback): ChatChoice {
  return {
    index: 0,
    message: { role: 'assistant', content: '', refusal: blockedText(feedback) },
    finish_reason: 'content_filter',
    native_finish_reason: feedback.blockReason,
  };
}

export function toToolCall(call: GeminiFunctionCall, signature: string | undefined, seed: string, candidate: number, n: number, provider: string): ToolCall {
  if (typeof call.name !== 'string' || call.name === '') throw malformed(provider, 'a function call without a name');
  const toolCall: ToolCall = {
    id: typeof call.id === 'string' && call.id !== '' ? call.id : `call_${seed}_${candidate}_${n}`,
    type: 'function',
    function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
  };
  if (signature) toolCall.extra_content = { google: { thought_signature: signature } };
  return toolCall;
}

/** The candidates of an answer, skipping anything that is not an object (the answer is untrusted). */
export function candidatesOf(response: GeminiResponse): GeminiCandidate[] {
  const candidates = response.candidates;
  if (!Array.isArray(candidates)) return [];
  return candidates.every(notNullObject) ? candidates : candidates.filter(notNullObject);
}

export function partsOf(candidate: GeminiCandidate): GeminiPart[] {
  const parts = candidate.content?.parts;
  if (!Array.isArray(parts)) return [];
  return parts.every(notNullObject) ? parts : parts.filter(notNullObject);
}

export function indexOf(candidate: GeminiCandidate, position: number): number {
  const index = candidate.index;
  return typeof index === 'number' && Number.isInteger(index) && index >= 0 ? index : position;
}

function notNullObject(value: unknown): boolean {
  return value !== null && typeof value === 'object';
}

const CONTENT_FILTER_REASONS = new Set([
  'SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT', 'IMAGE_RECITATION', 'MODEL_ARMOR',
]);

/**
 * Reasons that mean the model failed to make the tool call it was making: the answer holds no
 * usable output (often no content at all), and another try usually succeeds.
 */
const FAILED_CALL_REASONS = new Set(['MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL']);

/**
 * A candidate that stopped on a failed tool call, as a retryable upstream failure (502 once every
 * target failed) rather than an empty answer with finish_reason `stop` that an agent would take
 * for the model's last word.
 */
export function failedCallError(reason: string | undefined, finishMessage: unknown, provider: string): GatewayError | undefined {
  if (reason === undefined || !FAILED_CALL_REASONS.has(reason)) return undefined;
  const detail = typeof finishMessage === 'string' && finishMessage !== '' ? `: ${finishMessage.length > 300 ? `${finishMessage.slice(0, 300)}…` : finishMessage}` : '';
  return new GatewayError('upstream_error', `The upstream provider "${provider}" could not produce a valid tool call (finishReason ${reason})${detail}`, { provider });
}

/** Gemini's finishReason → OpenAI's. Reasons OpenAI has no word for (OTHER, LANGUAGE, ...) are `stop`. */
export function finishReasonOf(reason: string, hasToolCalls: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (CONTENT_FILTER_REASONS.has(reason)) return 'content_filter';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

export function filteredText(reason: string, finishMessage: string | undefined): string {
  return `Gemini stopped the answer (finishReason ${reason})${finishMessage ? `: ${finishMessage}` : '.'}`;
}

export function blockedText(feedback: GeminiPromptFeedback): string {
  return `Gemini blocked the prompt (blockReason ${feedback.blockReason ?? 'unknown'})${feedback.blockReasonMessage ? `: ${feedback.blockReasonMessage}` : '.'}`;
}

const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0);

/**
 * usageMetadata → OpenAI usage. Thought tokens are output tokens (billed as such) and reported as
 * reasoning_tokens; tool-use prompt tokens are input; cached tokens are part of promptTokenCount.
 */
export function toUsage(meta: GeminiUsageMetadata): Usage {
  const prompt = count(meta.promptTokenCount) + count(meta.toolUsePromptTokenCount);
  const thoughts = count(meta.thoughtsTokenCount);
  const completion = count(meta.candidatesTokenCount) + thoughts;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: count(meta.cachedContentTokenCount) },
    completion_tokens_details: { reasoning_tokens: thoughts },
  };
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The per-answer part of synthesized ids: Gemini's responseId, or random when it sent none. */
export function idSeed(responseId: string | undefined): string {
  return responseId !== undefined && SAFE_ID.test(responseId) ? responseId : randomBytes(9).toString('base64url');
}

// ---------------------------------------------------------------------------------------------
// Errors

interface GoogleErrorInfo {
  detail: UpstreamErrorDetail;
  /** ErrorInfo.reason, e.g. API_KEY_INVALID. */
  reason?: string;
  retryDelayMs?: number;
  code?: number;
}

/**
 * An upstream error status with Google's error body → GatewayError (Gemini and Vertex AI send the
 * same google.rpc.Status bodies). `credentialKeys` names the config keys of a refused credential.
 */
export function upstreamHttpError(status: number, bodyText: string, headers: Record<string, HeaderValue>, provider: string, credentialKeys?: string): GatewayError {
  const info = readGoogleError(bodyText);
  // A refused API key is a 400 INVALID_ARGUMENT (reason API_KEY_INVALID): it is the gateway's
  // credential, not the client's request. Google sends no Retry-After header; its
  // RetryInfo.retryDelay says how long to wait.
  return upstreamStatusError(status, info.detail, headers, provider, { credentials: isCredentialError(info), retryAfterMs: info.retryDelayMs, credentialKeys });
}

/** An `error` object inside a 200 stream. Before any output it is retried like a 5xx. */
export function inStreamError(error: GeminiError, provider: string): GatewayError {
  const info = readGoogleErrorObject(error);
  const suffix = info.detail.message ? `: ${info.detail.message}` : '.';
  if (info.code === 429) {
    return new GatewayError('upstream_rate_limited', `The upstream provider "${provider}" is rate limiting requests${suffix}`, {
      provider,
      retryAfterMs: info.retryDelayMs,
      upstreamType: info.detail.type,
    });
  }
  // A 4xx in the stream is what the same refusal as an HTTP status would be: the client's (not retried), or the credential's.
  if (info.code !== undefined && info.code >= 400 && info.code < 500) {
    return upstreamStatusError(info.code, info.detail, {}, provider, { credentials: isCredentialError(info), retryAfterMs: info.retryDelayMs });
  }
  return new GatewayError('upstream_error', `The upstream provider "${provider}" failed mid-stream${suffix}`, { provider, upstreamCode: info.detail.code, upstreamType: info.detail.type });
}

function isCredentialError(info: GoogleErrorInfo): boolean {
  if (info.reason?.startsWith('API_KEY_')) return true;
  if (info.detail.type === 'UNAUTHENTICATED') return true;
  return /^API key (?:not valid|expired)/i.test(info.detail.message ?? '');
}

function readGoogleError(bodyText: string): GoogleErrorInfo {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    const text = plainErrorText(bodyText);
    return { detail: text ? { message: text } : {} };
  }
  // Without alt=sse a stream's error comes as a one-element JSON array.
  if (Array.isArray(parsed)) parsed = parsed[0];
  const error = parsed !== null && typeof parsed === 'object' ? (parsed as { error?: unknown }).error : undefined;
  if (error === null || typeof error !== 'object') return { detail: {} };
  return readGoogleErrorObject(error as GeminiError);
}

const DURATION = /^(\d+(?:\.\d+)?)s$/;

function readGoogleErrorObject(error: GeminiError): GoogleErrorInfo {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const info: GoogleErrorInfo = { detail: { message: str(error.message), type: str(error.status) } };
  if (typeof error.code === 'number') info.code = error.code;
  if (Array.isArray(error.details)) {
    for (const item of error.details as unknown[]) {
      if (item === null || typeof item !== 'object') continue;
      const detail = item as { '@type'?: unknown; reason?: unknown; retryDelay?: unknown };
      const type = str(detail['@type']) ?? '';
      if (type.endsWith('google.rpc.ErrorInfo') && str(detail.reason)) info.reason = detail.reason as string;
      if (type.endsWith('google.rpc.RetryInfo')) {
        const match = DURATION.exec(str(detail.retryDelay) ?? '');
        if (match) info.retryDelayMs = Math.ceil(Number(match[1]) * 1000);
      }
    }
  }
  if (info.reason) info.detail.code = info.reason;
  return info;
}

export function malformed(provider: string, what: string): GatewayError {
  return new GatewayError('upstream_error', `The upstream provider "${provider}" sent ${what}.`, { provider });
}
