/**
 * OpenAI's wire format, as the real API sends it (API reference: chat.completion,
 * chat.completion.chunk, embeddings, models, error bodies). Pure builders used by the fake
 * upstream; deterministic so tests can assert exact content.
 */
import { createHash } from 'node:crypto';

/** The fields of a chat request the fake reads (everything else is only recorded). */
export interface WireChatRequest {
  model: string;
  messages: WireMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  n?: number | null;
  tools?: { type: string; function?: { name: string; parameters?: unknown } }[] | null;
  tool_choice?: 'none' | 'auto' | 'required' | { type: string; function: { name: string } } | null;
  response_format?: { type: string; json_schema?: { name?: string; schema?: unknown } } | null;
}

export interface WireMessage {
  role: string;
  content?: string | { type: string; text?: string }[] | null;
  tool_call_id?: string;
}

export interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface WireUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
  completion_tokens_details: { reasoning_tokens: number; audio_tokens: number; accepted_prediction_tokens: number; rejected_prediction_tokens: number };
}

export interface WireErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error response as OpenAI sends it: status, body and the headers that go with it. */
export interface WireError {
  status: number;
  body: WireErrorBody;
  headers?: Record<string, string>;
}

export const SYSTEM_FINGERPRINT = 'fp_fake0e2e';

/** What the fake "model" answers for one choice. */
export interface PlannedChoice {
  content: string | null;
  toolCalls: WireToolCall[];
  finishReason: WireFinishReason;
}

export type WireFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface PlannedReply {
  choices: PlannedChoice[];
  usage: WireUsage;
}

export function messageText(message: WireMessage | undefined): string {
  const content = message?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((part) => part.type === 'text')
    .map((part) => part.text ?? '')
    .join(' ');
}

function imageCount(message: WireMessage | undefined): number {
  const content = message?.content;
  return Array.isArray(content) ? content.filter((part) => part.type === 'image_url').length : 0;
}

function words(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/**
 * The deterministic answer: a tool call when tools are offered to a user turn (or forced),
 * "The tool <id> returned: ..." after a tool turn, JSON for response_format, otherwise
 * "Hello from <model>. You said: <last user text>".
 */
export function planReply(request: WireChatRequest): PlannedReply {
  const n = request.n ?? 1;
  const last = request.messages[request.messages.length - 1];
  const promptTokens = 3 + request.messages.reduce((sum, m) => sum + 4 + words(messageText(m)), 0);
  const tool = chooseTool(request, last);
  const choices: PlannedChoice[] = [];
  for (let i = 0; i < n; i++) {
    if (tool) {
      const args = JSON.stringify(sampleFromSchema(tool.parameters, 'Paris'));
      const id = `call_${createHash('sha256').update(`${tool.name}${args}${i}`).digest('hex').slice(0, 24)}`;
      choices.push({ content: null, toolCalls: [{ id, type: 'function', function: { name: tool.name, arguments: args } }], finishReason: 'tool_calls' });
      continue;
    }
    let text =
      last?.role === 'tool'
        ? `The tool ${last.tool_call_id ?? '?'} returned: ${messageText(last)}`
        : `Hello from ${request.model}. You said: ${messageText(last) || '(nothing)'}`;
    const images = imageCount(last);
    if (images > 0) text += ` [${images} image(s) received]`;
    if (n > 1) text += ` (choice ${i})`;
    const format = request.response_format;
    if (format?.type === 'json_object') text = JSON.stringify({ reply: text });
    else if (format?.type === 'json_schema') text = JSON.stringify(sampleFromSchema(format.json_schema?.schema, 'fake'));
    choices.push({ content: text, toolCalls: [], finishReason: 'stop' });
  }
  const completionTokens = choices.reduce((sum, c) => sum + (c.content ? words(c.content) : 5), 0);
  return { choices, usage: usage(promptTokens, completionTokens) };
}

function chooseTool(request: WireChatRequest, last: WireMessage | undefined): { name: string; parameters: unknown } | undefined {
  const tools = (request.tools ?? []).filter((t) => t.type === 'function' && t.function);
  const choice = request.tool_choice;
  if (tools.length === 0 || choice === 'none') return undefined;
  const pick = (name?: string) => {
    const found = tools.find((t) => name === undefined || t.function!.name === name) ?? tools[0]!;
    return { name: found.function!.name, parameters: found.function!.parameters };
  };
  if (choice && typeof choice === 'object') return pick(choice.function.name);
  if (choice === 'required') return pick();
  return last?.role === 'user' ? pick() : undefined;
}

/** A minimal value satisfying a JSON schema: required/declared properties, first enum value. */
export function sampleFromSchema(schema: unknown, text: string): unknown {
  if (schema === null || typeof schema !== 'object') return {};
  const s = schema as { type?: unknown; enum?: unknown[]; properties?: Record<string, unknown>; items?: unknown };
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const type = Array.isArray(s.type) ? (s.type[0] as unknown) : s.type;
  switch (type) {
    case 'string':
      return text;
    case 'number':
    case 'integer':
      return 42;
    case 'boolean':
      return true;
    case 'array':
      return [sampleFromSchema(s.items, text)];
    default: {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(s.properties ?? {})) out[key] = sampleFromSchema(value, text);
      return out;
    }
  }
}

export function usage(promptTokens: number, completionTokens: number): WireUsage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

/** A `chat.completion` object. */
export function chatCompletion(id: string, created: number, model: string, reply: PlannedReply): Record<string, unknown> {
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    choices: reply.choices.map((choice, index) => ({
      index,
      message: {
        role: 'assistant',
        content: choice.content,
        ...(choice.toolCalls.length > 0 ? { tool_calls: choice.toolCalls } : {}),
        refusal: null,
        annotations: [],
      },
      logprobs: null,
      finish_reason: choice.finishReason,
    })),
    usage: reply.usage,
    service_tier: 'default',
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

/**
 * The `chat.completion.chunk` objects of a stream, in order. With include_usage every chunk has
 * `usage: null` and a last chunk carries the usage with `choices: []`; without it there is no
 * `usage` key at all.
 */
export function chatChunks(id: string, created: number, model: string, reply: PlannedReply, includeUsage: boolean): Record<string, unknown>[] {
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    service_tier: 'default',
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices,
    ...(includeUsage ? { usage: null } : {}),
    ...extra,
  });
  const choiceDelta = (index: number, delta: Record<string, unknown>, finishReason: string | null = null) => ({ index, delta, logprobs: null, finish_reason: finishReason });

  const chunks: Record<string, unknown>[] = [];
  reply.choices.forEach((choice, index) => {
    if (choice.toolCalls.length > 0) {
      // Text before the calls (some models explain first): the role goes with the first text piece.
      const pieces = splitWords(choice.content ?? '');
      pieces.forEach((piece, i) => chunks.push(chunk([choiceDelta(index, i === 0 ? { role: 'assistant', content: piece, refusal: null } : { content: piece })])));
      choice.toolCalls.forEach((call, callIndex) => {
        const opening = { index: callIndex, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } };
        const first = callIndex === 0 && pieces.length === 0;
        chunks.push(chunk([choiceDelta(index, first ? { role: 'assistant', content: null, tool_calls: [opening], refusal: null } : { tool_calls: [opening] })]));
        for (const piece of splitFixed(call.function.arguments, 6)) {
          chunks.push(chunk([choiceDelta(index, { tool_calls: [{ index: callIndex, function: { arguments: piece } }] })]));
        }
      });
    } else {
      chunks.push(chunk([choiceDelta(index, { role: 'assistant', content: '', refusal: null })]));
      for (const piece of splitWords(choice.content ?? '')) chunks.push(chunk([choiceDelta(index, { content: piece })]));
    }
    chunks.push(chunk([choiceDelta(index, {}, choice.finishReason)]));
  });
  if (includeUsage) chunks.push(chunk([], { usage: reply.usage }));
  return chunks;
}

function splitWords(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

function splitFixed(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** A deterministic unit-ish vector per input; `base64` is little-endian float32, as OpenAI sends. */
export function embeddingVector(input: string, dimensions: number): number[] {
  const seed = createHash('sha256').update(input).digest();
  return Array.from({ length: dimensions }, (_, i) => (seed[i % seed.length]! - 128) / 128);
}

export function embeddingsResponse(model: string, inputs: string[], encoding: 'float' | 'base64', dimensions: number): Record<string, unknown> {
  const tokens = inputs.reduce((sum, text) => sum + Math.max(1, words(text)), 0);
  return {
    object: 'list',
    data: inputs.map((text, index) => {
      const vector = embeddingVector(text, dimensions);
      const embedding = encoding === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    }),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

export function modelsList(models: string[]): Record<string, unknown> {
  return { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 1_715_367_049, owned_by: 'system' })) };
}

function wireError(status: number, message: string, type: string, code: string | null, param: string | null = null, headers?: Record<string, string>): WireError {
  return { status, body: { error: { message, type, param, code } }, ...(headers ? { headers } : {}) };
}

/** Error responses exactly as OpenAI's API sends them. */
export const OPENAI_ERRORS = {
  invalidApiKey: (key: string): WireError =>
    wireError(
      401,
      `Incorrect API key provided: ${redactKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      'invalid_request_error',
      'invalid_api_key',
    ),
  missingApiKey: (): WireError =>
    wireError(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys.",
      'invalid_request_error',
      null,
    ),
  contextLengthExceeded: (): WireError =>
    wireError(
      400,
      "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. Please reduce the length of the messages.",
      'invalid_request_error',
      'context_length_exceeded',
      'messages',
    ),
  modelNotFound: (model: string): WireError =>
    wireError(404, `The model \`${model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found'),
  rateLimited: (model = 'gpt-4o-mini'): WireError =>
    wireError(
      429,
      `Rate limit reached for ${model} in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
      'requests',
      'rate_limit_exceeded',
      null,
      {
        'retry-after': '20',
        'x-ratelimit-limit-requests': '3',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '20s',
        'x-ratelimit-limit-tokens': '40000',
        'x-ratelimit-remaining-tokens': '39950',
        'x-ratelimit-reset-tokens': '75ms',
      },
    ),
  serverError: (): WireError => wireError(500, 'The server had an error while processing your request. Sorry about that!', 'server_error', null),
  overloaded: (): WireError => wireError(503, 'The engine is currently overloaded, please try again later', 'server_error', null),
} as const;

/** OpenAI shows the first and last characters of a wrong key only. */
function redactKey(key: string): string {
  if (key.length <= 8) return '*'.repeat(key.length);
  return `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}`;
}
