/**
 * Ingress checks for Anthropic Messages requests (`POST /v1/messages` and `/count_tokens`): the
 * fields the gateway translates, so a wrong type gets a 400 naming the field the way Anthropic's
 * API does (`messages.0.content.1.text: Field required`). Content block types the gateway does not
 * translate (documents, server tool results, ...) are only checked for a string `type`; they are
 * passed on for the upstream to judge. The validated object is the original one (no copy).
 */
import { z } from 'zod';
import { GatewayError } from '../../gateway/errors.js';
import { firstIssue, modelName } from '../validate-body.js';
import type { MessagesRequest } from '../../providers/anthropic/api.js';
import type { CountTokensBody } from './decode-request.js';

const REQUIRED = 'Field required';

/**
 * A string or an array of blocks. Not a zod union: a union that fails reports only its own
 * message, and the client needs the path of the block field at fault.
 */
function stringOrArray(item: z.ZodType, message: string): z.ZodType<string | unknown[]> {
  const array = z.array(item);
  return z.unknown().superRefine((value, ctx) => {
    if (typeof value === 'string') return;
    if (value === undefined) return ctx.addIssue({ code: 'custom', message: REQUIRED });
    if (!Array.isArray(value)) return ctx.addIssue({ code: 'custom', message });
    const result = array.safeParse(value);
    if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  }) as z.ZodType<string | unknown[]>;
}

const cacheControl = z.looseObject({ type: z.string() }).nullish();

const textBlock = z.looseObject({ type: z.literal('text'), text: z.string(), cache_control: cacheControl });

const imageSource = z.union(
  [
    z.looseObject({ type: z.literal('base64'), media_type: z.string().min(1), data: z.string().min(1) }),
    z.looseObject({ type: z.literal('url'), url: z.string().min(1) }),
    z.looseObject({ type: z.literal('file'), file_id: z.string().min(1) }),
  ],
  { error: 'must be {"type": "base64", "media_type", "data"}, {"type": "url", "url"} or {"type": "file", "file_id"}' },
);

const imageBlock = z.looseObject({ source: imageSource, cache_control: cacheControl });

/** Blocks allowed inside a tool_result's content; checked with the same per-type rules. */
const nestedBlock = z.looseObject({ type: z.string() }).superRefine((block, ctx) => checkBlock(block, ctx, NESTED_BLOCKS));

const BLOCKS: Record<string, z.ZodType> = {
  text: textBlock,
  image: imageBlock,
  tool_use: z.looseObject({ id: z.string().min(1), name: z.string().min(1), input: z.record(z.string(), z.unknown(), { error: 'must be an object' }) }),
  tool_result: z.looseObject({
    tool_use_id: z.string().min(1),
    content: stringOrArray(nestedBlock, 'must be a string or an array of content blocks').optional(),
    is_error: z.boolean().optional(),
  }),
  thinking: z.looseObject({ thinking: z.string(), signature: z.string() }),
  redacted_thinking: z.looseObject({ data: z.string() }),
};

const NESTED_BLOCKS: Record<string, z.ZodType> = { text: textBlock, image: imageBlock };

/** Runs the schema for the block's type and reports its issues at the block's own path. */
function checkBlock(block: { type: string }, ctx: z.RefinementCtx, schemas: Record<string, z.ZodType>): void {
  const schema = schemas[block.type];
  if (!schema) return;
  const result = schema.safeParse(block);
  if (result.success) return;
  for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
}

const contentBlock = z.looseObject({ type: z.string() }).superRefine((block, ctx) => checkBlock(block, ctx, BLOCKS));

const message = z.looseObject({
  role: z.enum(['user', 'assistant', 'system']),
  content: stringOrArray(contentBlock, 'must be a string or an array of content blocks'),
});

const tool = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  type: z.string().nullish(),
  // Custom tools need a JSON schema; server tools (`web_search_20250305`, ...) carry none.
  input_schema: z.looseObject({}).optional(),
  cache_control: cacheControl,
}).superRefine((value, ctx) => {
  const custom = value.type == null || value.type === 'custom';
  if (custom && value.input_schema === undefined) ctx.addIssue({ code: 'custom', message: REQUIRED, path: ['input_schema'] });
});

const toolChoice = z.discriminatedUnion(
  'type',
  [
    z.looseObject({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
    z.looseObject({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
    z.looseObject({ type: z.literal('tool'), name: z.string().min(1), disable_parallel_tool_use: z.boolean().optional() }),
    z.looseObject({ type: z.literal('none') }),
  ],
  { error: 'must be {"type": "auto" | "any" | "none"} or {"type": "tool", "name": ...}' },
);

const countTokensFields = {
  model: modelName,
  messages: z.array(message).min(1, 'at least one message is required'),
  system: stringOrArray(textBlock, 'must be a string or an array of text blocks').nullish(),
  tools: z.array(tool).nullish(),
  tool_choice: toolChoice.nullish(),
  thinking: z.looseObject({ type: z.string() }).nullish(),
};

const countTokensRequest = z.looseObject(countTokensFields);

const messagesRequest = z.looseObject({
  ...countTokensFields,
  max_tokens: z.int().min(1),
  stream: z.boolean().nullish(),
  stop_sequences: z.array(z.string()).nullish(),
  temperature: z.number().min(0).max(1).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.int().min(0).nullish(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).nullish(),
  output_config: z
    .looseObject({
      effort: z.string().nullish(),
      format: z.looseObject({ type: z.literal('json_schema'), schema: z.looseObject({}) }).nullish(),
    })
    .nullish(),
});

export function validateMessagesRequest(body: unknown): MessagesRequest {
  return check(messagesRequest, body) as MessagesRequest;
}

export function validateCountTokensRequest(body: unknown): CountTokensBody {
  return check(countTokensRequest, body) as CountTokensBody;
}

/** Validates without copying; the first problem becomes a 400 in Anthropic's wording. */
function check(schema: z.ZodType, body: unknown): unknown {
  const issue = firstIssue(schema, body);
  if (!issue) return body;
  const param = issue.path.map(String).join('.');
  const detail = issue.missing ? REQUIRED : issue.detail;
  throw new GatewayError('invalid_request', param ? `${param}: ${detail}` : detail, { param });
}
