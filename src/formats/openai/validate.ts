/**
 * Ingress checks for OpenAI-format requests: only the fields the gateway itself reads, so wrong
 * types get a clear 400 naming the field; every other field is passed on for the upstream to judge.
 */
import { z } from 'zod';
import { formatPath } from '../../config/load.js';
import { GatewayError } from '../../gateway/errors.js';
import { firstIssue, modelName } from '../validate-body.js';
import type { ChatRequest, EmbeddingsRequest } from '../../gateway/types.js';

const contentPart = z.looseObject({ type: z.string() });

const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(contentPart), z.null()], { error: 'must be a string, an array of content parts, or null' }).optional(),
  // A function call, or a custom tool's call (`{"type": "custom", "custom": {"name", "input"}}`).
  tool_calls: z
    .array(
      z.discriminatedUnion(
        'type',
        [
          z.looseObject({ id: z.string(), type: z.literal('function'), function: z.looseObject({ name: z.string(), arguments: z.string() }) }),
          z.looseObject({ id: z.string(), type: z.literal('custom'), custom: z.looseObject({ name: z.string(), input: z.string() }) }),
        ],
        { error: 'must be {"id", "type": "function", "function": {"name", "arguments"}} or {"id", "type": "custom", "custom": {"name", "input"}}' },
      ),
    )
    .optional(),
  tool_call_id: z.string().optional(),
  name: z.string().optional(),
});

const tool = z
  .looseObject({
    type: z.string(),
    function: z.looseObject({ name: z.string().min(1), parameters: z.looseObject({}).optional() }).optional(),
  })
  // A function tool without its function is nothing any provider can call (or translate).
  .refine((value) => value.type !== 'function' || value.function !== undefined, { path: ['function'], message: 'is required for a tool of type "function" ({"name": ..., "parameters": {...}})' });

const toolChoice = z.union(
  [
    z.enum(['none', 'auto', 'required']),
    z.looseObject({ type: z.literal('custom'), custom: z.looseObject({ name: z.string() }) }),
    z.looseObject({ type: z.literal('allowed_tools'), allowed_tools: z.looseObject({ mode: z.enum(['auto', 'required']), tools: z.array(z.looseObject({ type: z.string() })) }) }),
    z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) }),
  ],
  { error: 'must be "none", "auto", "required", {"type": "function", "function": {"name": ...}}, {"type": "custom", "custom": {"name": ...}} or {"type": "allowed_tools", "allowed_tools": {...}}' },
);

const responseFormat = z.looseObject({
  type: z.enum(['text', 'json_object', 'json_schema']),
  json_schema: z.looseObject({ name: z.string().optional(), schema: z.looseObject({}).optional() }).optional(),
});

const positiveInt = z.int().positive();

/** A seed is a whole number; beyond 2^53 too (the client's bytes go upstream as written), which z.int() would refuse. */
const seed = z.number().refine(Number.isInteger, 'must be a whole number');

const chatRequest = z
  .looseObject({
    model: modelName,
    messages: z.array(message).min(1, 'must contain at least one message'),
    stream: z.boolean().nullish(),
    stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
    n: z.int().min(1).max(128).nullish(),
    max_tokens: positiveInt.nullish(),
    max_completion_tokens: positiveInt.nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    tools: z.array(tool).nullish(),
    tool_choice: toolChoice.nullish(),
    response_format: responseFormat.nullish(),
    user: z.string().nullish(),
    // Read when a request is translated for Anthropic, Gemini or Bedrock (stop sequences, seed).
    stop: z.union([z.string(), z.array(z.string())], { error: 'must be a string or an array of strings' }).nullish(),
    seed: seed.nullish(),
  })
  .superRefine((body, ctx) => {
    // As OpenAI answers: a tool must be required or named only where there are tools.
    const choice = body.tool_choice;
    const forcing = choice === 'required' || (typeof choice === 'object' && choice !== null);
    if (forcing && !(Array.isArray(body.tools) && body.tools.length > 0)) {
      ctx.addIssue({ code: 'custom', path: ['tool_choice'], message: "requires tools: list the tools it may call in 'tools'" });
    }
  });

/** A token id: a whole number, 0 or more. */
const tokenId = z.int().nonnegative();

/** OpenAI's limit on the inputs of one embeddings request ("any array must be 2048 dimensions or less"). */
export const MAX_EMBEDDING_INPUTS = 2048;

const embeddingsRequest = z
  .looseObject({
    model: modelName,
    input: z.union([z.string(), z.array(z.string()).min(1), z.array(tokenId).min(1), z.array(z.array(tokenId).min(1)).min(1)], {
      error: 'must be a string, an array of strings, or token arrays (of whole numbers, 0 or more), and not empty',
    }),
    // `null` for an optional field is the same as leaving it out, as on chat.
    encoding_format: z.enum(['float', 'base64']).nullish(),
    dimensions: positiveInt.nullish(),
    user: z.string().nullish(),
  })
  .superRefine((body, ctx) => {
    // One token array is one input, however long; a list of strings or of token arrays is many.
    const { input } = body;
    if (Array.isArray(input) && typeof input[0] !== 'number' && input.length > MAX_EMBEDDING_INPUTS) {
      ctx.addIssue({ code: 'custom', path: ['input'], message: `must have at most ${MAX_EMBEDDING_INPUTS} items, got ${input.length} (send them in several requests)` });
    }
  });

export function validateChatRequest(body: unknown): ChatRequest {
  return check(chatRequest, body) as ChatRequest;
}

export function validateEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  return check(embeddingsRequest, body) as EmbeddingsRequest;
}

/** Validates without copying: the original object (with every unknown field) is what goes on. */
function check(schema: z.ZodType, body: unknown): unknown {
  const issue = firstIssue(schema, body);
  if (!issue) return body;
  const param = formatPath(issue.path);
  const missing = issue.code === 'invalid_type' && issue.missing;
  throw new GatewayError('invalid_request', `Invalid request: '${param}' ${missing ? 'is required' : issue.detail}.`, { param });
}
