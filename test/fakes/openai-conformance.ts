/**
 * The conformance fake (test/conformance/contract.ts) for OpenAI's wire format, in three flavors:
 *
 * - `openai`: `POST /v1/chat/completions`, `Authorization: Bearer <key>`.
 * - `azure-deployments`: `POST /openai/deployments/{deployment}/chat/completions?api-version=…`,
 *   `api-key: <key>`; a missing api-version gets Azure's 404, an unknown deployment DeploymentNotFound.
 * - `azure-v1`: `POST /openai/v1/chat/completions` (the deployment is the body's `model`), `api-key`
 *   or `Authorization: Bearer`.
 *
 * Azure answers carry content-filter annotations: `prompt_filter_results` on the response (on a
 * stream: a first chunk without choices), `content_filter_results` on each choice.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeFake, localOrigin, readRequestBody, serveFake } from './http-fake.js';
import { DEFAULT_REPLY, type ConformanceFake, type ErrorClass, type ScriptedReply, type ScriptedUsage, type UpstreamMessage, type UpstreamSummary } from '../conformance/contract.js';
import {
  AZURE_RESOURCE_NOT_FOUND,
  azureAuthError,
  azureClassError,
  contentFilterResults,
  deploymentNotFound,
  promptFilterChunk,
  promptFilterResults,
  promptFilteredError,
  type HttpError,
} from './azure-wire.js';
import { OPENAI_ERRORS, chatChunks, chatCompletion, type PlannedReply, type WireUsage } from './openai-wire.js';

export type OpenAIFlavor = 'openai' | 'azure-deployments' | 'azure-v1';

export interface OpenAIConformanceOptions {
  flavor: OpenAIFlavor;
  /** The upstream model (OpenAI) or deployment name (Azure). */
  model?: string;
  apiKey?: string;
  /** Azure deployments: the api-version the provider config asks for. */
  apiVersion?: string;
}

export interface RecordedCall {
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** A scripted answer, or (Azure) the 400 for a prompt the content filter blocked. */
type Planned = ScriptedReply | { kind: 'azure-prompt-filtered' };

interface WireRequest {
  model?: string;
  stream?: boolean;
  n?: number;
  stream_options?: { include_usage?: boolean };
  messages?: { role: string; content?: unknown; tool_calls?: { function?: { name?: string } }[]; tool_call_id?: string }[];
  tools?: { function?: { name?: string } }[];
  tool_choice?: unknown;
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string | string[];
  response_format?: { type?: string };
}

/** What Azure reports as `model` for a deployment: the deployed model version, not the deployment name. */
const AZURE_MODEL_VERSION = 'gpt-4o-mini-2024-07-18';

export class OpenAIConformanceFake implements ConformanceFake {
  readonly model: string;
  /** Every request received, chat or not, authorised or not. */
  readonly calls: RecordedCall[] = [];
  readonly #server: Server;
  readonly #options: Required<OpenAIConformanceOptions>;
  #queue: Planned[] = [];
  #chats: { body: WireRequest; deployment?: string }[] = [];
  #sequence = 0;

  private constructor(server: Server, options: OpenAIConformanceOptions) {
    this.#server = server;
    const azure = options.flavor !== 'openai';
    this.#options = {
      flavor: options.flavor,
      model: options.model ?? (azure ? 'conf-gpt4o-mini' : 'gpt-4o-mini'),
      apiKey: options.apiKey ?? (azure ? '0f3c9a7be21d4c58a6e4b9d01f7c2e35' : 'sk-conformance-upstream-0001'),
      apiVersion: options.apiVersion ?? '2024-10-21',
    };
    this.model = this.#options.model;
  }

  static async start(options: OpenAIConformanceOptions): Promise<OpenAIConformanceFake> {
    const server = createServer();
    const fake = new OpenAIConformanceFake(server, options);
    await serveFake(server, (req, res) => fake.#handle(req, res));
    return fake;
  }

  get url(): string {
    return localOrigin(this.#server);
  }

  providerConfig(): Record<string, unknown> {
    const { flavor, apiKey, apiVersion } = this.#options;
    if (flavor === 'openai') return { type: 'openai', base_url: `${this.url}/v1`, api_key: apiKey };
    const style = flavor === 'azure-v1' ? 'v1' : 'deployments';
    return { type: 'azure', base_url: this.url, api_key: apiKey, api_style: style, api_version: apiVersion };
  }

  enqueue(reply: ScriptedReply): void {
    this.#queue.push(reply);
  }

  /** Azure: the next chat request is refused with the 400 for a filtered prompt. */
  enqueuePromptFiltered(): void {
    this.#queue.push({ kind: 'azure-prompt-filtered' });
  }

  lastChatRequest(): UpstreamSummary {
    const last = this.#chats.at(-1);
    if (!last) throw new Error('the fake upstream has received no chat request');
    return summarize(last.body, last.deployment);
  }

  chatRequestCount(): number {
    return this.#chats.length;
  }

  reset(): void {
    this.#queue = [];
    this.#chats = [];
    this.calls.length = 0;
  }

  async close(): Promise<void> {
    await closeFake(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { json: body } = await readRequestBody(req);
    this.calls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });

    const url = new URL(req.url ?? '/', this.url);
    const route = this.#route(req.method ?? '', url, req.headers);
    if ('error' in route) return sendError(res, route.error);
    if (body === null || typeof body !== 'object' || !Array.isArray((body as WireRequest).messages)) {
      return sendError(res, { status: 400, body: { error: { message: "Missing required parameter: 'messages'.", type: 'invalid_request_error', param: 'messages', code: 'missing_required_parameter' } } });
    }
    const request = body as WireRequest;
    const deployment = route.deployment ?? request.model;
    if (deployment !== this.model) {
      return sendError(res, this.#options.flavor === 'openai' ? OPENAI_ERRORS.modelNotFound(String(deployment)) : deploymentNotFound());
    }
    this.#chats.push({ body: request, deployment: route.deployment });
    this.#answer(request, this.#queue.shift() ?? DEFAULT_REPLY, res);
  }

  /** The flavor's URL and auth rules; a chat request yields the deployment named in the path (if any). */
  #route(method: string, url: URL, headers: IncomingHttpHeaders): { deployment?: string } | { error: HttpError } {
    const { flavor, apiKey } = this.#options;
    const invalidUrl = (): { error: HttpError } => ({
      error: flavor === 'openai' ? { status: 404, body: { error: { message: `Invalid URL (${method} ${url.pathname})`, type: 'invalid_request_error', param: null, code: null } } } : AZURE_RESOURCE_NOT_FOUND,
    });
    if (method !== 'POST') return invalidUrl();
    if (flavor === 'openai') {
      if (url.pathname !== '/v1/chat/completions') return invalidUrl();
      const match = /^Bearer (.+)$/.exec(headers.authorization ?? '');
      if (!match) return { error: OPENAI_ERRORS.missingApiKey() };
      return match[1] === apiKey ? {} : { error: OPENAI_ERRORS.invalidApiKey(match[1]!) };
    }
    let deployment: string | undefined;
    if (flavor === 'azure-deployments') {
      const match = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(url.pathname);
      if (!match || !url.searchParams.get('api-version')) return invalidUrl();
      deployment = decodeURIComponent(match[1]!);
    } else if (url.pathname !== '/openai/v1/chat/completions') {
      return invalidUrl();
    }
    // The v1 API also takes the key as a Bearer token (the plain OpenAI SDK's way).
    const bearer = flavor === 'azure-v1' ? /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1] : undefined;
    if ((headers['api-key'] ?? bearer) !== apiKey) return { error: azureAuthError() };
    return { deployment };
  }

  #answer(request: WireRequest, planned: Planned, res: ServerResponse): void {
    const azure = this.#options.flavor !== 'openai';
    if (planned.kind === 'azure-prompt-filtered') return sendError(res, promptFilteredError());
    if (planned.kind === 'http-error') return sendError(res, this.#errorFor(planned.errorClass, planned.message, planned.retryAfterSeconds));

    const id = `chatcmpl-conf${String(++this.#sequence).padStart(6, '0')}`;
    const created = Math.floor(Date.now() / 1000);
    const model = azure ? AZURE_MODEL_VERSION : request.model ?? this.model;
    if (planned.kind !== 'reply') {
      const error = { error: { message: planned.message, type: 'server_error', param: null, code: null } };
      const before = planned.kind === 'stream-error-after-output' ? chatChunks(id, created, model, plan(planned.text, 'stop', { input: 0, output: 0 }, 1), false).slice(0, -1) : [];
      // Azure annotates the prompt before anything else, so even a stream that fails before any output starts with it.
      if (azure) before.unshift(promptFilterChunk());
      return sendEvents(res, [...before, error], false);
    }

    const reply = plan(planned.text ?? null, planned.finish, planned.usage, request.n ?? 1, planned.toolCalls);
    if (!request.stream) {
      const completion = chatCompletion(id, created, model, reply);
      if (azure) annotate(completion, planned.finish);
      return sendJson(res, 200, completion);
    }
    const chunks = chatChunks(id, created, model, reply, request.stream_options?.include_usage === true);
    if (azure) {
      for (const chunk of chunks) annotateChunk(chunk);
      chunks.unshift(promptFilterChunk());
    }
    sendEvents(res, chunks, true);
  }

  #errorFor(errorClass: ErrorClass, message: string, retryAfterSeconds = 7): HttpError {
    if (this.#options.flavor !== 'openai') return azureClassError(errorClass, message, retryAfterSeconds);
    const openai = (status: number, type: string, code: string | null, headers?: Record<string, string>): HttpError => ({
      status,
      body: { error: { message, type, param: null, code } },
      ...(headers ? { headers } : {}),
    });
    switch (errorClass) {
      case 'invalid_request':
        return openai(400, 'invalid_request_error', 'invalid_value');
      case 'auth':
        return openai(401, 'invalid_request_error', 'invalid_api_key');
      case 'permission':
        return openai(403, 'invalid_request_error', 'unsupported_country_region_territory');
      case 'not_found':
        return openai(404, 'invalid_request_error', 'model_not_found');
      case 'rate_limit':
        return openai(429, 'requests', 'rate_limit_exceeded', {
          'retry-after': String(retryAfterSeconds),
          'x-ratelimit-limit-requests': '500',
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': `${retryAfterSeconds}s`,
        });
      case 'quota':
        return openai(429, 'insufficient_quota', 'insufficient_quota');
      case 'server':
        return openai(500, 'server_error', null);
      case 'overloaded':
        return openai(503, 'server_error', null);
    }
  }
}

/** The scripted answer as the wire builders' plan: `n` identical choices. */
function plan(text: string | null, finish: PlannedReply['choices'][number]['finishReason'], usage: ScriptedUsage, n: number, toolCalls: { id: string; name: string; arguments: string }[] = []): PlannedReply {
  const calls = toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }));
  return { choices: Array.from({ length: n }, () => ({ content: text, toolCalls: calls, finishReason: finish })), usage: wireUsage(usage) };
}

/** OpenAI counts every prompt token in prompt_tokens; cache reads are also cached_tokens (writes are not reported). */
function wireUsage(usage: ScriptedUsage): WireUsage {
  const prompt = usage.input + (usage.cacheRead ?? 0) + (usage.cacheWrite ?? 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.output,
    total_tokens: prompt + usage.output,
    prompt_tokens_details: { cached_tokens: usage.cacheRead ?? 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function annotate(completion: Record<string, unknown>, finish: string): void {
  completion.prompt_filter_results = promptFilterResults();
  for (const choice of completion.choices as Record<string, unknown>[]) {
    choice.content_filter_results = contentFilterResults(finish === 'content_filter' ? 'violence' : undefined);
  }
}

/** Azure annotates content chunks; the opening and finishing chunks carry empty results (a filtered finish names the category). */
function annotateChunk(chunk: Record<string, unknown>): void {
  for (const choice of chunk.choices as { delta: { content?: unknown }; finish_reason: unknown; content_filter_results?: unknown }[]) {
    if (choice.finish_reason === 'content_filter') choice.content_filter_results = contentFilterResults('violence');
    else choice.content_filter_results = typeof choice.delta.content === 'string' && choice.delta.content !== '' ? contentFilterResults() : {};
  }
}

function summarize(body: WireRequest, deployment: string | undefined): UpstreamSummary {
  const messages = body.messages ?? [];
  const system = messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => textOf(m.content));
  const choice = body.tool_choice;
  const format = body.response_format?.type;
  return {
    model: deployment ?? body.model ?? '',
    stream: body.stream === true,
    ...(system.length > 0 ? { system: system.join('\n') } : {}),
    messages: messages.filter((m) => m.role !== 'system' && m.role !== 'developer').map(readMessage),
    tools: (body.tools ?? []).map((t) => t.function?.name ?? ''),
    ...(choice === 'auto' || choice === 'required' || choice === 'none' ? { toolChoice: choice } : {}),
    ...(isObject(choice) && isObject(choice.function) ? { toolChoice: { name: String(choice.function.name) } } : {}),
    ...defined('maxTokens', body.max_completion_tokens ?? body.max_tokens),
    ...defined('temperature', body.temperature),
    ...defined('topP', body.top_p),
    ...defined('stop', typeof body.stop === 'string' ? [body.stop] : body.stop),
    ...(format === 'json_object' ? { jsonMode: 'object' as const } : format === 'json_schema' ? { jsonMode: 'schema' as const } : {}),
  };
}

function readMessage(message: NonNullable<WireRequest['messages']>[number]): UpstreamMessage {
  const parts = Array.isArray(message.content) ? (message.content as { type?: string }[]) : [];
  return {
    role: message.role as UpstreamMessage['role'],
    text: textOf(message.content),
    images: parts.filter((p) => p.type === 'image_url').length,
    toolCalls: (message.tool_calls ?? []).map((c) => c.function?.name ?? ''),
    ...(message.tool_call_id !== undefined ? { toolResultFor: message.tool_call_id } : {}),
  };
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as { type?: string; text?: string }[]).filter((p) => p.type === 'text').map((p) => p.text ?? '').join('');
}

function defined<K extends string, V>(key: K, value: V | null | undefined): { [P in K]?: V } {
  return value === undefined || value === null ? {} : ({ [key]: value } as { [P in K]?: V });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, error.body, error.headers);
}

/** An SSE stream of these events; `[DONE]` at the end unless the stream ends on an error. */
function sendEvents(res: ServerResponse, events: unknown[], done: boolean): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.end(events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : ''));
}
