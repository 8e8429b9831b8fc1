/** Bedrock Converse responses and error bodies → canonical results and classified GatewayErrors. */
import { GatewayError } from '../../gateway/errors.js';
import type { ChatCompletion, ChatMessage, FinishReason, ThinkingBlock, ToolCall, Usage } from '../../gateway/types.js';
import { plainErrorText, upstreamStatusError, type HeaderValue, type UpstreamErrorDetail } from '../upstream-errors.js';
import type { WireContentBlock, WireConverseResponse, WireErrorBody, WireTokenUsage } from './api.js';
import { parseResponseBody } from '../upstream-json.js';

export interface ResponseContext {
  provider: string;
  /** The upstream model id (the response body does not name it). */
  model: string;
  /** The completion id (Bedrock has none in the body: the request id is used). */
  id: string;
  /** The forced JSON tool's name when response_format was emulated (request.ts). */
  jsonTool: string | undefined;
}

/** A 2xx Converse body → chat.completion. Unreadable or incomplete bodies are upstream failures. */
export function parseConverseResponse(text: string, ctx: ResponseContext): ChatCompletion {
  const value = parseResponseBody(text, ctx.provider) as WireConverseResponse;
  const content = value.output?.message?.content;
  if (!Array.isArray(content)) throw invalidResponse(ctx.provider, 'has no output message');

  let answer = '';
  /** The forced JSON tool's input: the whole answer when it was called (text beside it is the model's preamble). */
  let jsonAnswer: string | undefined;
  let reasoning = '';
  const toolCalls: ToolCall[] = [];
  const thinkingBlocks: ThinkingBlock[] = [];
  for (const block of content as WireContentBlock[]) {
    if (block === null || typeof block !== 'object') continue;
    if (typeof block.text === 'string') {
      answer += block.text;
    } else if (block.toolUse) {
      const { toolUseId, name, input } = block.toolUse;
      if (typeof toolUseId !== 'string' || typeof name !== 'string') throw invalidResponse(ctx.provider, 'has a tool use without an id or a name');
      const args = JSON.stringify(input ?? {});
      if (ctx.jsonTool !== undefined && name === ctx.jsonTool) jsonAnswer = (jsonAnswer ?? '') + args;
      else toolCalls.push({ id: toolUseId, type: 'function', function: { name, arguments: args } });
    } else if (block.reasoningContent) {
      const { reasoningText, redactedContent } = block.reasoningContent;
      if (reasoningText && typeof reasoningText.text === 'string') {
        reasoning += reasoningText.text;
        const thinking: ThinkingBlock = { type: 'thinking', thinking: reasoningText.text };
        if (typeof reasoningText.signature === 'string') thinking.signature = reasoningText.signature;
        thinkingBlocks.push(thinking);
      } else if (typeof redactedContent === 'string') {
        thinkingBlocks.push({ type: 'redacted_thinking', data: redactedContent });
      }
    }
    // Other blocks (citations, guard content, ...) have no place in OpenAI's message.
  }

  if (jsonAnswer !== undefined) answer = jsonAnswer;
  const message: ChatMessage = { role: 'assistant', content: answer !== '' || toolCalls.length === 0 ? answer : null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (reasoning !== '') message.reasoning_content = reasoning;
  if (thinkingBlocks.length > 0) message.thinking_blocks = thinkingBlocks;

  const completion: ChatCompletion = {
    id: ctx.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: ctx.model,
    choices: [{ index: 0, message, finish_reason: finishReason(value.stopReason, toolCalls.length > 0), logprobs: null }],
  };
  const usage = mapUsage(value.usage);
  if (usage) completion.usage = usage;
  return completion;
}

/**
 * Bedrock's stopReason → OpenAI's finish_reason. `tool_use` without a client tool call (the JSON
 * tool answered) is a plain stop.
 */
export function finishReason(stopReason: unknown, calledTools: boolean): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return calledTools ? 'tool_calls' : 'stop';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, malformed_model_output, malformed_tool_use, anything new
      return 'stop';
  }
}

/**
 * Bedrock counts cache reads and writes apart from `inputTokens`; OpenAI's prompt_tokens includes
 * them (cache reads are also `prompt_tokens_details.cached_tokens`, writes `cache_creation_input_tokens`).
 */
export function mapUsage(usage: WireTokenUsage | null | undefined): Usage | undefined {
  if (usage === null || typeof usage !== 'object') return undefined;
  const input = count(usage.inputTokens);
  const output = count(usage.outputTokens);
  const cacheRead = count(usage.cacheReadInputTokens);
  const cacheWrite = count(usage.cacheWriteInputTokens);
  const prompt = input + cacheRead + cacheWrite;
  const mapped: Usage = {
    prompt_tokens: prompt,
    completion_tokens: output,
    total_tokens: prompt + output,
    prompt_tokens_details: { cached_tokens: cacheRead },
  };
  if (typeof usage.cacheWriteInputTokens === 'number') mapped.cache_creation_input_tokens = cacheWrite;
  return mapped;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

function invalidResponse(provider: string, what: string): GatewayError {
  return new GatewayError('upstream_error', `The upstream provider "${provider}" returned a response that ${what}.`, { provider });
}

/** An upstream error status with Bedrock's error body (`{"message"}`, type in `x-amzn-ErrorType`) → GatewayError. */
export function bedrockHttpError(status: number, bodyText: string, headers: Record<string, HeaderValue>, provider: string): GatewayError {
  const detail = readErrorDetail(bodyText, headers);
  // 424 ModelErrorException: the model failed while processing the request, not the request
  // itself: a retryable 502 like a 5xx, so another target gets it.
  if (status === 424) {
    return new GatewayError('upstream_error', `The upstream provider "${provider}" failed with HTTP 424 (${detail.type ?? 'ModelErrorException'})${detail.message ? `: ${detail.message}` : '.'}`, { provider });
  }
  // Bedrock sends its quota refusal as a 400 ("You can resubmit your request later"): it is a
  // rate limit, so it is a 429 that fails over and may be retried, like a ThrottlingException.
  const quota = detail.type === 'ServiceQuotaExceededException';
  return upstreamStatusError(quota ? 429 : status, detail, headers, provider, {
    credentialKeys: 'access_key_id / secret_access_key / session_token, or the AWS_* environment variables',
  });
}

export function readErrorDetail(bodyText: string, headers: Record<string, HeaderValue>): UpstreamErrorDetail {
  const detail: UpstreamErrorDetail = {};
  const headerType = firstHeader(headers['x-amzn-errortype']);
  // `ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/` → ValidationException
  if (headerType) detail.type = headerType.split(':', 1)[0];
  let body: WireErrorBody | undefined;
  try {
    body = JSON.parse(bodyText) as WireErrorBody;
  } catch {
    const text = plainErrorText(bodyText);
    if (text) detail.message = text;
    return detail;
  }
  if (body === null || typeof body !== 'object') return detail;
  const message = typeof body.message === 'string' ? body.message : body.Message;
  if (typeof message === 'string' && message !== '') detail.message = message;
  // `__type` may be namespaced: `com.amazon.coral.validate#ValidationException`.
  if (!detail.type && typeof body.__type === 'string') detail.type = body.__type.slice(body.__type.lastIndexOf('#') + 1).split(':', 1)[0];
  return detail;
}

function firstHeader(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
