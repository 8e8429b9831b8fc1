/**
 * What an answer says about its own quality, noted on the request context as it passes: the
 * finish reasons (OpenAI's names; Anthropic's stop reasons mapped onto them) and, for requests
 * that asked for `response_format: json_schema` or whose bodies the request log keeps, the
 * answer's text (checked against the schema at settle; a streamed answer's body in the log). Works on whole answers and on streams, OpenAI-format and Anthropic-native.
 */
import { schemaOf } from '../observability/sla/json-schema-check.js';
import type { RequestContext } from './context.js';

/** Anthropic stop_reason → OpenAI finish_reason. */
const STOP_REASONS: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  pause_turn: 'stop',
  refusal: 'content_filter',
};

interface AnswerLike {
  choices?: { finish_reason?: string | null; message?: { content?: unknown; tool_calls?: unknown[] } }[];
  message?: { stop_reason?: string | null; content?: { type?: string; text?: string }[] };
}

interface StreamItemLike {
  choices?: { index?: number; finish_reason?: string | null; delta?: { content?: unknown } }[];
  value?: { type?: unknown; index?: unknown; delta?: { stop_reason?: unknown; text?: unknown } };
}

/** A streamed answer's text is kept up to this many characters (the request log cuts it shorter). */
const MAX_KEPT_CHARS = 1_000_000;

/** The schema in OpenAI's `response_format: {type: 'json_schema', json_schema: {schema}}`, if any. */
export function expectSchema(rc: RequestContext, responseFormat: unknown): void {
  const schema = schemaOf(responseFormat);
  if (schema) {
    rc.answerSchema = schema;
    rc.keepText = true;
  }
}

/** Anthropic's structured outputs: `output_config.format` (or the beta's `output_format`) of type json_schema. */
export function expectAnthropicSchema(rc: RequestContext, body: { output_config?: unknown; output_format?: unknown }): void {
  const format = (body.output_config as { format?: unknown } | null | undefined)?.format ?? body.output_format;
  const { type, schema } = (format ?? {}) as { type?: unknown; schema?: unknown };
  if (type === 'json_schema' && schema !== null && typeof schema === 'object') {
    rc.answerSchema = schema;
    rc.keepText = true;
  }
}

/** A whole answer: an OpenAI chat completion or an Anthropic-native message. */
export function noteAnswer(rc: RequestContext, answer: unknown): void {
  const { choices, message } = answer as AnswerLike;
  if (Array.isArray(choices)) {
    const reasons: string[] = [];
    for (const choice of choices) if (choice.finish_reason) reasons.push(choice.finish_reason);
    rc.finishReasons = reasons;
    rc.answerEmpty = choices.every(({ message }) => !hasText(message?.content) && !(message?.tool_calls?.length));
    if (rc.keepText) {
      const content = choices[0]?.message?.content;
      rc.answerText = typeof content === 'string' ? content : '';
    }
  } else if (message) {
    if (message.stop_reason) rc.finishReasons = [STOP_REASONS[message.stop_reason] ?? message.stop_reason];
    // Any block but empty text (tool use, thinking, ...) is an answer.
    rc.answerEmpty = !(message.content ?? []).some((block) => block.type !== 'text' || hasText(block.text));
    if (rc.keepText) rc.answerText = (message.content ?? []).map((block) => (block.type === 'text' ? (block.text ?? '') : '')).join('');
  }
}

function hasText(content: unknown): boolean {
  if (typeof content === 'string') return content.length > 0;
  return Array.isArray(content) && content.length > 0;
}

/** One stream item: an OpenAI-format chunk or an Anthropic-native event. */
export function noteStreamItem(rc: RequestContext, item: unknown): void {
  const { choices, value } = item as StreamItemLike;
  if (Array.isArray(choices)) {
    for (const choice of choices) {
      if (choice.finish_reason) (rc.finishReasons ??= []).push(choice.finish_reason);
      if (rc.keepText && choice.index === 0 && typeof choice.delta?.content === 'string') keep(rc, choice.delta.content);
    }
    return;
  }
  if (value?.type === 'message_delta') {
    const stop = value.delta?.stop_reason;
    if (typeof stop === 'string') rc.finishReasons = [STOP_REASONS[stop] ?? stop];
  } else if (rc.keepText && value?.type === 'content_block_delta' && typeof value.delta?.text === 'string') {
    keep(rc, value.delta.text);
  }
}

function keep(rc: RequestContext, text: string): void {
  const kept = rc.answerText ?? '';
  if (kept.length < MAX_KEPT_CHARS) rc.answerText = kept + text;
}
