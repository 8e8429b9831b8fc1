/**
 * The exact-cache key: a SHA-256 of a request's output-relevant content, framed by a version, the
 * kind, a tenant namespace and the model group. Two requests share a key only when a provider
 * would be asked the same thing, so a cached answer can stand in for a fresh one.
 *
 * Normalisation (what makes two requests equal):
 * - Canonical JSON: object keys sorted (UTF-16 order) at every depth; `undefined` members dropped
 *   (in arrays they encode as `null`, as JSON.stringify does); non-finite numbers encode as `null`.
 * - Fields listed in IGNORED_CHAT_FIELDS / IGNORED_EMBEDDINGS_FIELDS are left out.
 * - `null` equals absent for the known optional fields below (request and message level), as in
 *   OpenAI's API. Unknown fields and nested values keep `null` as given.
 * - A message `content` (and, on Anthropic Messages, the top-level `system`) that is one part with
 *   only `type: 'text'` and a string `text` equals that string. Several text parts are not joined
 *   (how parts are separated is the provider's choice), and a part with any other member (e.g.
 *   `cache_control`, `citations`) stays a part.
 *
 * Deliberately not normalised: defaults (absent `temperature` ≠ `temperature: 1`, because each
 * provider's default differs and the group may span providers), `stop: "x"` vs `["x"]`, embeddings
 * `input: "x"` vs `["x"]`, tool-call ids. Unknown fields are kept: they may change the answer.
 */
import { hash } from 'node:crypto';
import type { ChatRequest, EmbeddingsRequest } from '../gateway/types.js';

/** Bumped whenever the normalisation changes, so old entries stop matching rather than mismatching. */
const KEY_VERSION = 'v1';

/** Where a key lives: the tenant namespace, the model group that answers, and the endpoint kind. */
export interface CacheKeyInput {
  namespace: string;
  group: string;
  kind: 'chat' | 'embeddings' | 'messages';
  /** Restrictions on which targets may answer (routing/plan.ts restrictionKey); '' or absent: none. */
  restrictions?: string;
}

/** Chat request fields left out of the key because they do not change the answer's content. */
export const IGNORED_CHAT_FIELDS: readonly string[] = Object.freeze([
  'model', // the caller's alias; the resolved model group is in the key instead
  'stream', // transport only: a stored answer can be replayed as a stream or as one body
  'stream_options', // only whether a streamed answer ends with a usage chunk
  'user', // end-user id for the provider's abuse monitoring; tenants are isolated by the namespace
  'safety_identifier', // OpenAI's successor to `user`, same purpose
  'metadata', // tags for logs / stored completions; routing by tags shows up as a different group
  'store', // whether OpenAI keeps the completion for evals / distillation
  'service_tier', // latency and price tier of the same model; the content is not affected
  'prompt_cache_key', // OpenAI prompt-cache routing hint: affects cost and latency only
  'prompt_cache_retention', // how long OpenAI keeps the prompt cache: cost only
]);

/**
 * Anthropic Messages request fields left out of the key: `model`, `stream` (as for chat),
 * `metadata` (`user_id`: abuse monitoring only) and `service_tier` (capacity, not content).
 */
export const IGNORED_MESSAGES_FIELDS: readonly string[] = Object.freeze(['model', 'stream', 'metadata', 'service_tier']);

/** Embeddings request fields left out of the key (same reasons as for chat). */
export const IGNORED_EMBEDDINGS_FIELDS: readonly string[] = Object.freeze(['model', 'user']);

const IGNORED_CHAT = new Set(IGNORED_CHAT_FIELDS);
const IGNORED_EMBEDDINGS = new Set(IGNORED_EMBEDDINGS_FIELDS);
const IGNORED_MESSAGES = new Set(IGNORED_MESSAGES_FIELDS);

/** Known optional request fields whose `null` means "not set" (OpenAI's semantics). */
const NULLABLE_CHAT_FIELDS: ReadonlySet<string> = new Set([
  'n', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'stop', 'seed',
  'presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs', 'top_logprobs',
  'response_format', 'tools', 'tool_choice', 'parallel_tool_calls', 'functions', 'function_call',
  'reasoning_effort', 'verbosity', 'thinking', 'modalities', 'audio', 'prediction', 'web_search_options',
]);

const NULLABLE_MESSAGE_FIELDS: ReadonlySet<string> = new Set([
  'content', 'name', 'tool_calls', 'tool_call_id', 'function_call', 'refusal', 'audio',
  'reasoning_content', 'thinking_blocks',
]);

const NULLABLE_EMBEDDINGS_FIELDS: ReadonlySet<string> = new Set(['dimensions', 'encoding_format']);

/** A stable hex SHA-256 key for a chat request's output-relevant content. */
export function chatCacheKey(request: ChatRequest, input: CacheKeyInput): string {
  return digest('chat', input, encodeObject(request, encodeChatField));
}

/**
 * A stable hex SHA-256 key for an Anthropic Messages request (the body as the client sent it:
 * Anthropic's own fields, unknown ones included) and the `anthropic-beta` header, which can change
 * the answer. Messages keys never equal chat keys (the kind is hashed in). `messages[].content` and
 * `system` are normalised as chat content is: one plain text block equals its string.
 */
export function messagesCacheKey(body: object, beta: string | undefined, input: CacheKeyInput): string {
  const canonical = encodeObject(body as Record<string, unknown>, encodeMessagesField);
  return digest('messages', input, beta === undefined ? canonical : `${canonical},${JSON.stringify(beta)}`);
}

/** A stable hex SHA-256 key for an embeddings request's output-relevant content. */
export function embeddingsCacheKey(request: EmbeddingsRequest, input: CacheKeyInput): string {
  return digest('embeddings', input, encodeObject(request, encodeEmbeddingsField));
}

/**
 * Hashes `["v1",kind,namespace,group,<canonical request>]`, or with restrictions
 * `["v1",kind,namespace,group,"<restrictions>",<canonical request>]`: JSON framing keeps the parts
 * unambiguous (a namespace cannot bleed into the group however either is spelt, and the request is
 * an object where the restrictions are a string).
 */
function digest(kind: CacheKeyInput['kind'], input: CacheKeyInput, canonicalRequest: string): string {
  // A caller passing the wrong kind has a bug; a silent key in the other kind's space would hide it.
  if (input.kind !== kind) throw new Error(`${kind}CacheKey called with kind '${input.kind}'`);
  const restrictions = input.restrictions ? `${JSON.stringify(input.restrictions)},` : '';
  const framed = `["${KEY_VERSION}","${kind}",${JSON.stringify(input.namespace)},${JSON.stringify(input.group)},${restrictions}${canonicalRequest}]`;
  return hash('sha256', framed, 'hex');
}

/** Encodes one member of an object, or returns undefined to leave it out. */
type FieldEncoder = (key: string, value: unknown) => string | undefined;

function encodeAnyField(_key: string, value: unknown): string | undefined {
  return encodeValue(value);
}

function encodeChatField(key: string, value: unknown): string | undefined {
  if (IGNORED_CHAT.has(key)) return undefined;
  if (value === null && NULLABLE_CHAT_FIELDS.has(key)) return undefined;
  if (key === 'messages' && Array.isArray(value)) return encodeMessages(value, encodeMessageField);
  return encodeValue(value);
}

function encodeMessagesField(key: string, value: unknown): string | undefined {
  if (IGNORED_MESSAGES.has(key)) return undefined;
  if (key === 'messages' && Array.isArray(value)) return encodeMessages(value, encodeAnthropicMessageField);
  if (key === 'system') return encodeContent(value);
  return encodeValue(value);
}

function encodeEmbeddingsField(key: string, value: unknown): string | undefined {
  if (IGNORED_EMBEDDINGS.has(key)) return undefined;
  if (value === null && NULLABLE_EMBEDDINGS_FIELDS.has(key)) return undefined;
  // `float` is what every embeddings API answers without the field: the same answer, one entry.
  if (key === 'encoding_format' && value === 'float') return undefined;
  return encodeValue(value);
}

/** A member of an OpenAI chat message. */
function encodeMessageField(key: string, value: unknown): string | undefined {
  if (value === null && NULLABLE_MESSAGE_FIELDS.has(key)) return undefined;
  if (key === 'content') return encodeContent(value);
  return encodeValue(value);
}

/**
 * A member of an Anthropic message: only the content is normalised. OpenAI's null-as-absent
 * message fields do not apply (Anthropic messages have none; an unknown field keeps its null).
 */
function encodeAnthropicMessageField(key: string, value: unknown): string | undefined {
  return key === 'content' ? encodeContent(value) : encodeValue(value);
}

/** A content value (a message's `content`, Anthropic's `system`): a sole plain text part as its string. */
function encodeContent(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    const text = soleText(value);
    if (text !== undefined) return JSON.stringify(text);
  }
  return encodeValue(value);
}

function encodeMessages(messages: unknown[], encodeField: FieldEncoder): string {
  let out = '[';
  for (let i = 0; i < messages.length; i++) {
    if (i > 0) out += ',';
    const message = messages[i];
    out += isRecord(message) ? encodeObject(message, encodeField) : (encodeValue(message) ?? 'null');
  }
  return out + ']';
}

/** The text of a content array that is exactly one plain text part, else undefined. */
function soleText(content: unknown[]): string | undefined {
  if (content.length !== 1) return undefined;
  const part = content[0];
  if (!isRecord(part) || part.type !== 'text' || typeof part.text !== 'string') return undefined;
  for (const key in part) {
    if (key !== 'type' && key !== 'text' && part[key] !== undefined) return undefined;
  }
  return part.text;
}

/** Canonical JSON of a value; undefined where JSON.stringify would leave an object member out. */
function encodeValue(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      return Array.isArray(value) ? encodeArray(value) : encodeObject(value as Record<string, unknown>, encodeAnyField);
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      throw new TypeError(`cannot build a cache key from a ${typeof value}`);
  }
}

function encodeArray(values: unknown[]): string {
  let out = '[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += encodeValue(values[i]) ?? 'null';
  }
  return out + ']';
}

/** Members in sorted key order, each encoded by `encodeField` (which may leave it out). */
function encodeObject(object: Record<string, unknown>, encodeField: FieldEncoder): string {
  const keys = Object.keys(object).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const encoded = encodeField(key, object[key]);
    if (encoded === undefined) continue;
    out += (first ? '' : ',') + JSON.stringify(key) + ':' + encoded;
    first = false;
  }
  return out + '}';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
