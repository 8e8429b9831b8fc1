/** Clients for e2e tests: the official OpenAI SDK, and raw HTTP for what the SDK cannot send. */
import { connect } from 'node:net';
import OpenAI, { APIError } from 'openai';
import type { Gateway } from './gateway.js';

/** The official SDK pointed at the gateway; no SDK retries so every attempt is the test's own. */
export function sdk(gateway: Gateway, apiKey = 'sk-client-e2e'): OpenAI {
  return new OpenAI({ baseURL: gateway.baseURL, apiKey, maxRetries: 0, timeout: 15_000 });
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** A raw HTTP request to the gateway (body as given: a string or bytes, never re-encoded). */
export async function raw(
  gateway: Gateway,
  path: string,
  init: { method?: string; body?: string | Uint8Array; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const res = await fetch(`${gateway.url}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: init.body === undefined ? init.headers : { 'content-type': 'application/json', ...init.headers },
    body: init.body,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** OpenAI's error shape, as every error on the OpenAI routes must look. */
export interface OpenAIErrorShape {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function isOpenAIError(value: unknown): value is OpenAIErrorShape {
  if (value === null || typeof value !== 'object' || !('error' in value)) return false;
  const error = (value as { error: unknown }).error;
  if (error === null || typeof error !== 'object') return false;
  const e = error as Record<string, unknown>;
  return (
    typeof e.message === 'string' &&
    e.message !== '' &&
    typeof e.type === 'string' &&
    'param' in e &&
    (e.param === null || typeof e.param === 'string') &&
    'code' in e &&
    (e.code === null || typeof e.code === 'string')
  );
}

export type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

/** Every chunk of an SDK stream, in order. */
export async function collect(stream: AsyncIterable<Chunk>): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** Runs `call`, which must fail with the SDK's APIError; returns it. */
export async function apiError(call: () => Promise<unknown>): Promise<APIError> {
  try {
    await call();
  } catch (err) {
    if (err instanceof APIError) return err;
    throw err;
  }
  throw new Error('expected the request to fail with an APIError, but it succeeded');
}

/** Sends raw bytes on a new connection to the gateway; resolves with all it wrote once it closes. */
export async function rawExchange(gateway: Gateway, bytes: string | Buffer): Promise<string> {
  const { port, hostname } = new URL(gateway.url);
  const socket = connect(Number(port), hostname);
  let answer = '';
  socket.setEncoding('utf8').on('data', (text: string) => (answer += text));
  await new Promise<void>((resolve, reject) => {
    socket.on('close', () => resolve());
    socket.on('error', reject);
    socket.write(bytes);
  });
  return answer;
}
