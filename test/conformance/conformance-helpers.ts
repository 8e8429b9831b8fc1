/**
 * Helpers for the provider conformance suite: the gateway config it runs against, request
 * builders, stream collection, and the client-facing outcome the gateway's error rules promise
 * for each upstream error class (src/providers/upstream-errors.ts, src/gateway/errors.ts).
 */
import type { OpenAI } from 'openai';
import { expect } from 'vitest';
import type { ConformanceCapabilities, ConformanceFake, ErrorClass, ScriptedUsage } from './contract.js';

export { apiError, collect, type Chunk } from '../helpers/client.js';
import type { Chunk } from '../helpers/client.js';
export type ChatParams = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;
export type Tool = OpenAI.Chat.Completions.ChatCompletionTool;

/** The provider under test is `p`; `backup` is the mock provider failover lands on. */
export function gatewayConfig(fake: ConformanceFake): string {
  // JSON is valid YAML flow syntax, so the fake's provider block is embedded as it is.
  const provider = JSON.stringify(fake.providerConfig());
  const target = JSON.stringify({ provider: 'p', model: fake.model });
  return [
    'providers:',
    `  p: ${provider}`,
    '  backup: { type: mock }',
    'models:',
    `  conf: { targets: [ ${target} ] }`,
    `  conf-failover: { targets: [ ${target}, { provider: backup, model: mock } ] }`,
    // One attempt per target, and no breaker: the suite drives one failure after another on purpose.
    'routing: { retry: { max_retries: 0 }, circuit_breaker: { enabled: false } }',
    '',
  ].join('\n');
}

/** Every credential string in the provider block (api_key, secret_access_key, ...). */
export function secretsOf(fake: ConformanceFake): string[] {
  return Object.entries(fake.providerConfig())
    .filter(([key, value]) => /key|secret|token|password/i.test(key) && typeof value === 'string' && value.length >= 4)
    .map(([, value]) => value as string);
}

/** A 1×1 RGBA PNG, as a data: URL. */
export const TINY_PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

export const WEATHER_TOOL: Tool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

export const TIME_TOOL: Tool = {
  type: 'function',
  function: {
    name: 'get_time',
    description: 'Local time in a timezone',
    parameters: { type: 'object', properties: { timezone: { type: 'string' } }, required: ['timezone'] },
  },
};

/** A one-turn request for `model` (a group name) with the given extras. */
export function ask(model: string, text: string, extra: Partial<ChatParams> = {}): ChatParams {
  return { model, messages: [{ role: 'user', content: text }], ...extra };
}


export function streamedText(chunks: Chunk[]): string {
  return chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content ?? '')).join('');
}

export function finishReasons(chunks: Chunk[]): string[] {
  return chunks.flatMap((c) => c.choices.flatMap((choice) => (choice.finish_reason ? [choice.finish_reason] : [])));
}

/** Streamed tool-call deltas reassembled per index: id, name and the concatenated arguments. */
export function streamedToolCalls(chunks: Chunk[]): { index: number; id: string; name: string; arguments: string }[] {
  const calls = new Map<number, { index: number; id: string; name: string; arguments: string }>();
  for (const chunk of chunks) {
    for (const choice of chunk.choices) {
      for (const delta of choice.delta.tool_calls ?? []) {
        const call = calls.get(delta.index) ?? { index: delta.index, id: '', name: '', arguments: '' };
        if (delta.id) call.id = delta.id;
        if (delta.function?.name) call.name += delta.function.name;
        if (delta.function?.arguments) call.arguments += delta.function.arguments;
        calls.set(delta.index, call);
      }
    }
  }
  return [...calls.values()].sort((a, b) => a.index - b.index);
}

/**
 * The canonical usage rule (src/gateway/types.ts `Usage`): `prompt_tokens` counts every input
 * token, cache reads and writes included (input + cacheRead + cacheWrite); cache reads are also
 * `prompt_tokens_details.cached_tokens`, cache writes `cache_creation_input_tokens`;
 * total = prompt + completion. `input` in a script is the uncached part.
 */
export function expectUsage(actual: OpenAI.CompletionUsage | null | undefined, scripted: ScriptedUsage, caps: ConformanceCapabilities): void {
  const prompt = scripted.input + (scripted.cacheRead ?? 0) + (scripted.cacheWrite ?? 0);
  expect(actual).toMatchObject({ prompt_tokens: prompt, completion_tokens: scripted.output, total_tokens: prompt + scripted.output });
  if (scripted.cacheRead !== undefined) expect(actual!.prompt_tokens_details?.cached_tokens).toBe(scripted.cacheRead);
  if (scripted.cacheWrite !== undefined && caps.cacheWriteTokens) {
    expect((actual as { cache_creation_input_tokens?: number }).cache_creation_input_tokens).toBe(scripted.cacheWrite);
  }
}


/** The upstream HTTP status each class is sent with (overloaded: 503, or Anthropic's 529 — the same rules apply). */
export function upstreamStatusOf(errorClass: ErrorClass, caps: ConformanceCapabilities): number {
  const statuses: Record<ErrorClass, number> = {
    invalid_request: 400,
    auth: caps.authStatus ?? 401,
    permission: 403,
    not_found: 404,
    rate_limit: 429,
    quota: caps.quotaStatus ?? 429,
    server: 500,
    overloaded: 503,
  };
  return statuses[errorClass];
}

export interface ExpectedError {
  status: number;
  /** Another target is tried (the executor fails over only on retryable errors). */
  retryable: boolean;
  /** A fragment the client-facing message must contain besides the provider's own message. */
  says?: RegExp;
}

/**
 * What the client sees for an upstream status, per upstream-errors.ts: 401/403 are the gateway's
 * own credentials → retryable 502 that says so; 429 → retryable 429 with Retry-After; other 4xx keep
 * their status and are final (408/409 aside); 5xx → retryable 502.
 */
export function expectedClientError(upstreamStatus: number, errorClass?: ErrorClass, caps: ConformanceCapabilities = {}): ExpectedError {
  if (errorClass === 'quota' && caps.quotaIsRateLimit) return { status: 429, retryable: true };
  if (upstreamStatus === 401 || upstreamStatus === 403 || errorClass === 'auth') {
    return { status: 502, retryable: true, says: new RegExp(`credentials \\(HTTP ${upstreamStatus}\\)`) };
  }
  if (upstreamStatus === 429) return { status: 429, retryable: true };
  if (upstreamStatus < 500) return { status: upstreamStatus, retryable: upstreamStatus === 408 || upstreamStatus === 409 };
  return { status: 502, retryable: true, says: /failed with HTTP 5\d\d/ };
}

export const ERROR_CLASSES: ErrorClass[] = ['invalid_request', 'auth', 'permission', 'not_found', 'rate_limit', 'quota', 'server', 'overloaded'];
