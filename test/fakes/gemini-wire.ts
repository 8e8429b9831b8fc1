/**
 * Gemini's wire format (generativelanguage v1beta API reference: GenerateContentResponse,
 * streamGenerateContent?alt=sse, embedContent / batchEmbedContents, google.rpc.Status error bodies),
 * as pure builders for the fake upstream, plus the reader that turns a GenerateContentRequest back
 * into the conformance suite's provider-neutral summary.
 */
import { createHash } from 'node:crypto';
import type { ErrorClass, ScriptedReply, UpstreamMessage, UpstreamSummary } from '../conformance/contract.js';

type Reply = Extract<ScriptedReply, { kind: 'reply' }>;

/** An error response as Google sends it: status and `{"error": {code, message, status, details?}}`. */
export interface GoogleError {
  status: number;
  body: { error: { code: number; message: string; status: string; details?: Record<string, unknown>[] } };
}

function googleError(code: number, status: string, message: string, details?: Record<string, unknown>[]): GoogleError {
  return { status: code, body: { error: { code, message, status, ...(details ? { details } : {}) } } };
}

const QUOTA_HELP = { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] };

/** Error bodies exactly as the Gemini API sends them. */
export const GEMINI_ERRORS = {
  invalidArgument: (message: string): GoogleError => googleError(400, 'INVALID_ARGUMENT', message),
  /** A wrong key is a 400, not a 401, with ErrorInfo reason API_KEY_INVALID. */
  apiKeyInvalid: (message = 'API key not valid. Please pass a valid API key.'): GoogleError =>
    googleError(400, 'INVALID_ARGUMENT', message, [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message },
    ]),
  missingKey: (): GoogleError =>
    googleError(403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."),
  permissionDenied: (message: string): GoogleError => googleError(403, 'PERMISSION_DENIED', message),
  modelNotFound: (model: string, method: string): GoogleError =>
    googleError(404, 'NOT_FOUND', `models/${model} is not found for API version v1beta, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`),
  notFound: (message: string): GoogleError => googleError(404, 'NOT_FOUND', message),
  /** 429 with QuotaFailure (per minute, or per day for an exhausted daily quota) and RetryInfo. */
  resourceExhausted: (message: string, retrySeconds: number, perDay = false): GoogleError =>
    googleError(429, 'RESOURCE_EXHAUSTED', message, [
      {
        '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
        violations: [
          {
            quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
            quotaId: perDay ? 'GenerateRequestsPerDayPerProjectPerModel-FreeTier' : 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
            quotaDimensions: { location: 'global', model: 'gemini-2.5-flash' },
            quotaValue: perDay ? '250' : '10',
          },
        ],
      },
      QUOTA_HELP,
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retrySeconds}s` },
    ]),
  internal: (message = 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'): GoogleError =>
    googleError(500, 'INTERNAL', message),
  unavailable: (message = 'The model is overloaded. Please try again later.'): GoogleError => googleError(503, 'UNAVAILABLE', message),
} as const;

/** The conformance suite's error classes, as Gemini reports each. */
export function classError(errorClass: ErrorClass, message: string, retryAfterSeconds = 7): GoogleError {
  switch (errorClass) {
    case 'invalid_request':
      return GEMINI_ERRORS.invalidArgument(message);
    case 'auth':
      return GEMINI_ERRORS.apiKeyInvalid(message);
    case 'permission':
      return GEMINI_ERRORS.permissionDenied(message);
    case 'not_found':
      return GEMINI_ERRORS.notFound(message);
    case 'rate_limit':
      return GEMINI_ERRORS.resourceExhausted(message, retryAfterSeconds);
    case 'quota':
      return GEMINI_ERRORS.resourceExhausted(message, 3600, true);
    case 'server':
      return GEMINI_ERRORS.internal(message);
    case 'overloaded':
      return GEMINI_ERRORS.unavailable(message);
  }
}

const FINISH: Record<Reply['finish'], string> = { stop: 'STOP', length: 'MAX_TOKENS', tool_calls: 'STOP', content_filter: 'SAFETY' };

/** usageMetadata for a scripted usage: cache reads and writes are part of promptTokenCount. */
function usageMetadata(reply: Reply, outputSoFar?: number): Record<string, unknown> {
  const { input, output, cacheRead, cacheWrite } = reply.usage;
  const prompt = input + (cacheRead ?? 0) + (cacheWrite ?? 0);
  const out = outputSoFar ?? output;
  // Scripted thinking takes half the output tokens, as thoughtsTokenCount.
  const thoughts = reply.thinking ? Math.floor(out / 2) : 0;
  const meta: Record<string, unknown> = { promptTokenCount: prompt, candidatesTokenCount: out - thoughts, totalTokenCount: prompt + out };
  meta.promptTokensDetails = [{ modality: 'TEXT', tokenCount: prompt }];
  if (cacheRead) meta.cachedContentTokenCount = cacheRead;
  if (thoughts) meta.thoughtsTokenCount = thoughts;
  return meta;
}

function functionCallParts(reply: Reply): Record<string, unknown>[] {
  return (reply.toolCalls ?? []).map((call) => ({ functionCall: { id: call.id, name: call.name, args: JSON.parse(call.arguments) as unknown } }));
}

function candidates(count: number, parts: Record<string, unknown>[], finish: string | undefined): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, index) => ({ content: { parts, role: 'model' }, ...(finish ? { finishReason: finish } : {}), index }));
}

/** A generateContent answer for a scripted reply, with `count` identical candidates. */
export function generateContentResponse(reply: Reply, count: number, model: string, responseId: string): Record<string, unknown> {
  const parts: Record<string, unknown>[] = [];
  if (reply.thinking) parts.push({ text: reply.thinking, thought: true });
  if (reply.text) parts.push({ text: reply.text });
  parts.push(...functionCallParts(reply));
  return { candidates: candidates(count, parts, FINISH[reply.finish]), usageMetadata: usageMetadata(reply), modelVersion: model, responseId };
}

/**
 * The events of streamGenerateContent for a scripted reply: thoughts, then the text in pieces,
 * then the function calls (whole) with the finishReason. Every event repeats the running usage.
 */
export function streamEvents(reply: Reply, count: number, model: string, responseId: string): Record<string, unknown>[] {
  const steps: Record<string, unknown>[][] = [];
  if (reply.thinking) steps.push([{ text: reply.thinking, thought: true }]);
  for (const piece of textPieces(reply.text ?? '')) steps.push([{ text: piece }]);
  const calls = functionCallParts(reply);
  if (calls.length > 0) steps.push(calls);
  if (steps.length === 0) steps.push([{ text: '' }]);
  return steps.map((parts, i) => {
    const last = i === steps.length - 1;
    const soFar = last ? undefined : Math.floor((reply.usage.output * (i + 1)) / steps.length);
    return { candidates: candidates(count, parts, last ? FINISH[reply.finish] : undefined), usageMetadata: usageMetadata(reply, soFar), modelVersion: model, responseId };
  });
}

/** The text split into up to three pieces at word boundaries. */
export function textPieces(text: string): string[] {
  const words = text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
  const size = Math.max(1, Math.ceil(words.length / 3));
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += size) pieces.push(words.slice(i, i + size).join(''));
  return pieces;
}

/** An error object inside a 200 stream. */
export function streamErrorEvent(message: string): Record<string, unknown> {
  return { error: { code: 500, message, status: 'INTERNAL' } };
}

/** One SSE event, framed the way the Gemini API frames it (CRLF line endings). */
export function sseEvent(value: unknown): string {
  return `data: ${JSON.stringify(value)}\r\n\r\n`;
}

/** A deterministic embedding of `text` with `dimensions` values. */
export function embeddingValues(text: string, dimensions: number): number[] {
  const seed = createHash('sha256').update(text).digest();
  return Array.from({ length: dimensions }, (_, i) => (seed[i % seed.length]! - 128) / 128);
}

// ---------------------------------------------------------------------------------------------
// Reading requests back

export interface WirePart {
  text?: string;
  thought?: boolean;
  inlineData?: { mimeType?: string; data?: string };
  fileData?: { mimeType?: string; fileUri?: string };
  functionCall?: { id?: string; name?: string; args?: unknown };
  functionResponse?: { id?: string; name?: string; response?: Record<string, unknown> };
}

export interface WireGenerateRequest {
  contents?: { role?: string; parts?: WirePart[] }[];
  systemInstruction?: { parts?: WirePart[] };
  tools?: { functionDeclarations?: { name?: string }[] }[];
  toolConfig?: { functionCallingConfig?: { mode?: string; allowedFunctionNames?: string[] } };
  generationConfig?: {
    maxOutputTokens?: number;
    temperature?: number;
    topP?: number;
    stopSequences?: string[];
    candidateCount?: number;
    responseMimeType?: string;
    responseJsonSchema?: unknown;
    responseSchema?: unknown;
  };
}

/** A GenerateContentRequest in the conformance suite's terms. */
export function summarize(request: WireGenerateRequest, model: string, stream: boolean): UpstreamSummary {
  const config = request.generationConfig ?? {};
  const summary: UpstreamSummary = { model, stream, messages: [], tools: [] };
  const system = (request.systemInstruction?.parts ?? []).map((p) => p.text ?? '');
  if (system.length > 0) summary.system = system.join('\n');
  for (const content of request.contents ?? []) summary.messages.push(...messagesOf(content.role, content.parts ?? []));
  summary.tools = (request.tools ?? []).flatMap((tool) => (tool.functionDeclarations ?? []).map((d) => d.name ?? ''));
  const calling = request.toolConfig?.functionCallingConfig;
  if (calling?.mode === 'AUTO') summary.toolChoice = 'auto';
  else if (calling?.mode === 'NONE') summary.toolChoice = 'none';
  else if (calling?.mode === 'ANY') summary.toolChoice = calling.allowedFunctionNames?.length === 1 ? { name: calling.allowedFunctionNames[0]! } : 'required';
  if (config.maxOutputTokens !== undefined) summary.maxTokens = config.maxOutputTokens;
  if (config.temperature !== undefined) summary.temperature = config.temperature;
  if (config.topP !== undefined) summary.topP = config.topP;
  if (config.stopSequences !== undefined) summary.stop = config.stopSequences;
  if (config.responseMimeType === 'application/json') summary.jsonMode = config.responseJsonSchema || config.responseSchema ? 'schema' : 'object';
  return summary;
}

/** One content turn as messages: a user turn may hold tool results (each its own message) and text. */
function messagesOf(role: string | undefined, parts: WirePart[]): UpstreamMessage[] {
  if (role === 'model') {
    const text = parts.filter((p) => typeof p.text === 'string' && !p.thought).map((p) => p.text).join('');
    return [{ role: 'assistant', text, images: 0, toolCalls: parts.flatMap((p) => (p.functionCall ? [p.functionCall.name ?? ''] : [])) }];
  }
  const messages: UpstreamMessage[] = [];
  let user: UpstreamMessage | undefined;
  for (const part of parts) {
    if (part.functionResponse) {
      user = undefined;
      const response = part.functionResponse.response ?? {};
      const text = typeof response.output === 'string' ? response.output : JSON.stringify(response);
      const message: UpstreamMessage = { role: 'tool', text, images: 0, toolCalls: [] };
      if (part.functionResponse.id !== undefined) message.toolResultFor = part.functionResponse.id;
      messages.push(message);
      continue;
    }
    if (!user) {
      user = { role: 'user', text: '', images: 0, toolCalls: [] };
      messages.push(user);
    }
    if (typeof part.text === 'string') user.text += part.text;
    if (part.inlineData || part.fileData) user.images += 1;
  }
  return messages;
}
