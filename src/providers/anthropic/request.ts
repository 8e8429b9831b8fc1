/**
 * Canonical (OpenAI chat) request → Anthropic Messages request. Pure and idempotent: the input is
 * never mutated (a retry on another target runs this again), and every problem Anthropic could
 * only answer with a vague 400 becomes a clear `invalid_request` naming the field here.
 *
 * OpenAI parameters Anthropic has no equivalent for (frequency_penalty, presence_penalty, seed,
 * logit_bias, logprobs, modalities, ...) are dropped: the Messages API rejects unknown fields.
 */
import { GatewayError } from '../../gateway/errors.js';
import { effortThinking, thinksAdaptively } from './claude-models.js';
import type { ChatMessage, ChatRequest, ToolChoice, ToolDefinition } from '../../gateway/types.js';
import type { CacheControl, ContentBlockParam, MessageParam, MessagesRequest, TextBlockParam, ThinkingParam, ToolChoiceParam, ToolParam } from './api.js';
import { convertAssistant, convertSystem, convertToolResult, convertUserContent } from './request-content.js';
import { forcedFunction, requireFunctionTools } from '../function-tools.js';

/**
 * JSON output. The Messages API version this provider targets (2023-06-01) has no JSON mode, so
 * `response_format` uses the common technique: a tool named `json_output` whose input_schema is the
 * requested schema (any object for `json_object`), which the model is made to call; its input is
 * returned as the message text with finish_reason `stop` (response.ts, stream.ts). A forced tool
 * yields valid JSON every time, which a system instruction cannot promise.
 */
export const JSON_TOOL_NAME = 'json_output';


export interface BuildOptions {
  upstreamModel: string;
  stream: boolean;
  /** `max_tokens` when the client gave none (Anthropic requires it). */
  defaultMaxTokens: number;
}

export interface BuiltRequest {
  body: MessagesRequest;
  /** The `json_output` tool was added: its call is the answer's text. */
  jsonTool: boolean;
}

export function buildMessagesRequest(request: ChatRequest, options: BuildOptions): BuiltRequest {
  if (request.n != null && request.n > 1) {
    throw new GatewayError('invalid_request', 'Anthropic models return one choice per request: "n" must be 1 (or left out).', { param: 'n' });
  }
  requireFunctionTools(request, 'Anthropic');
  const { system, messages } = convertMessages(request.messages);
  const tools = convertTools(request.tools);
  let toolChoice = convertToolChoice(request.tool_choice, tools.length > 0);
  const clientMaxTokens = request.max_completion_tokens ?? request.max_tokens ?? undefined;
  const newest = thinksAdaptively(options.upstreamModel);
  const fromEffort = request.thinking == null ? effortThinking(request.reasoning_effort, clientMaxTokens, toolChoice?.type === 'any' || toolChoice?.type === 'tool', newest) : undefined;
  const thinking = (request.thinking as ThinkingParam | null | undefined) ?? fromEffort?.thinking;
  const budget = thinking?.type === 'enabled' && typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : (fromEffort?.room ?? 0);
  // OpenAI's max tokens include reasoning; with no limit given, thinking gets room on top of the default.
  const maxTokens = clientMaxTokens ?? options.defaultMaxTokens + budget;

  const body: MessagesRequest = { model: options.upstreamModel, max_tokens: maxTokens, messages };
  if (fromEffort?.effort) body.output_config = { effort: fromEffort.effort };
  let jsonTool = false;

  const json = jsonToolFor(request);
  // With `required` or a named tool the model must call the client's tool: no answer this turn.
  const answersThisTurn = request.tool_choice !== 'required' && typeof request.tool_choice !== 'object';
  if (json && answersThisTurn) {
    if (tools.some((tool) => tool.name === JSON_TOOL_NAME)) {
      throw new GatewayError('invalid_request', `The tool name "${JSON_TOOL_NAME}" is reserved when response_format asks Anthropic models for JSON.`, { param: 'tools' });
    }
    const hasClientTools = tools.length > 0 && request.tool_choice !== 'none';
    tools.push(json);
    jsonTool = true;
    if (thinking?.type === 'enabled' || thinking?.type === 'adaptive') {
      // Anthropic rejects a forced tool_choice while thinking: ask for the tool instead.
      toolChoice = { type: 'auto' };
      system.push({ type: 'text', text: `Give your final answer by calling the ${JSON_TOOL_NAME} tool; its input is the answer.` });
    } else {
      // Any tool (a real call, or the answer through json_output) when the client offered tools.
      toolChoice = hasClientTools ? { type: 'any' } : { type: 'tool', name: JSON_TOOL_NAME };
    }
  }

  if (system.length > 0) body.system = system.some((block) => block.cache_control) ? system : system.map((block) => block.text).join('\n\n');
  if (tools.length > 0) {
    body.tools = tools;
    if (request.parallel_tool_calls === false) toolChoice = withoutParallel(toolChoice ?? { type: 'auto' });
    if (toolChoice) body.tool_choice = toolChoice;
  }
  const stop = request.stop;
  if (typeof stop === 'string') body.stop_sequences = [stop];
  else if (Array.isArray(stop) && stop.length > 0) body.stop_sequences = stop as string[];
  // The newest models took the sampling parameters away (any value but the default is a 400):
  // like the OpenAI parameters Anthropic has no equivalent for, they are left out there.
  if (!newest) {
    if (typeof request.temperature === 'number') body.temperature = request.temperature;
    if (typeof request.top_p === 'number') body.top_p = request.top_p;
    if (typeof request.top_k === 'number') body.top_k = request.top_k;
  }
  if (typeof request.user === 'string' && request.user !== '') body.metadata = { user_id: request.user };
  if (thinking) body.thinking = thinking;
  if (options.stream) body.stream = true;
  return { body, jsonTool };
}

/** System / developer messages → `system` blocks (wherever they are); the rest → alternating turns. */
function convertMessages(input: ChatMessage[]): { system: TextBlockParam[]; messages: MessageParam[] } {
  const system: TextBlockParam[] = [];
  const messages: MessageParam[] = [];
  const push = (role: 'user' | 'assistant', content: string | ContentBlockParam[] | undefined): void => {
    if (content === undefined) return;
    const last = messages[messages.length - 1];
    if (last?.role !== role) {
      messages.push({ role, content });
      return;
    }
    // Anthropic requires alternating roles: consecutive turns of one role become one message.
    last.content = [...asBlocks(last.content), ...asBlocks(content)];
  };
  for (let i = 0; i < input.length; i++) {
    const message = input[i]!;
    switch (message.role) {
      case 'system':
      case 'developer':
        for (const block of convertSystem(message, i)) system.push(block);
        break;
      case 'user':
        push('user', withMessageCache(convertUserContent(message.content, `messages[${i}].content`), message));
        break;
      case 'assistant':
        push('assistant', withMessageCache(convertAssistant(message, i), message));
        break;
      case 'tool':
        // Several results of one turn end up in one user message (merged above), as Anthropic requires.
        push('user', [convertToolResult(message, i)]);
        break;
      default:
        throw new GatewayError('invalid_request', `messages[${i}].role "${message.role}" is not supported by Anthropic models (use system, developer, user, assistant or tool).`, {
          param: `messages[${i}].role`,
        });
    }
  }
  return { system, messages };
}

function asBlocks(content: string | ContentBlockParam[]): ContentBlockParam[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

/** A message-level `cache_control` (LiteLLM's convention) marks the message's last block. */
function withMessageCache(content: string | ContentBlockParam[] | undefined, message: ChatMessage): string | ContentBlockParam[] | undefined {
  const cache = message.cache_control as CacheControl | undefined;
  if (!cache || content === undefined) return content;
  const blocks = asBlocks(content);
  const last = blocks[blocks.length - 1];
  if (!last) return content;
  return [...blocks.slice(0, -1), { ...last, cache_control: cache }];
}

function convertTools(tools: ToolDefinition[] | null | undefined): ToolParam[] {
  if (!tools) return [];
  return tools.map((tool): ToolParam => {
    // Anthropic-native tools (web search, computer use, ...) carry their own versioned type.
    if (tool.type !== 'function' || !tool.function) return tool as unknown as ToolParam;
    const fn = tool.function;
    const converted: ToolParam = { name: fn.name, input_schema: fn.parameters ?? { type: 'object', properties: {} } };
    if (typeof fn.description === 'string') converted.description = fn.description;
    const cache = (tool.cache_control ?? fn.cache_control) as CacheControl | undefined;
    if (cache) converted.cache_control = cache;
    return converted;
  });
}

function convertToolChoice(choice: ToolChoice | null | undefined, hasTools: boolean): ToolChoiceParam | undefined {
  if (!hasTools || choice == null) return undefined;
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'any' };
  if (choice === 'none') return { type: 'none' };
  const name = forcedFunction(choice, 'Anthropic');
  if (name !== undefined) return { type: 'tool', name };
  throw new GatewayError('invalid_request', 'tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}.', { param: 'tool_choice' });
}

function withoutParallel(choice: ToolChoiceParam): ToolChoiceParam {
  return choice.type === 'none' ? choice : { ...choice, disable_parallel_tool_use: true };
}

function jsonToolFor(request: ChatRequest): ToolParam | undefined {
  const format = request.response_format;
  if (format?.type === 'json_schema') {
    const spec = format.json_schema;
    if (!spec?.schema) {
      throw new GatewayError('invalid_request', 'response_format.json_schema.schema is required for Anthropic models.', { param: 'response_format.json_schema.schema' });
    }
    const about = typeof (spec as { description?: unknown }).description === 'string' ? ` ${(spec as { description: string }).description}` : '';
    return {
      name: JSON_TOOL_NAME,
      description: `Respond with your answer as JSON${spec.name ? ` (${spec.name})` : ''} following this schema.${about}`,
      input_schema: spec.schema,
    };
  }
  if (format?.type === 'json_object') {
    return { name: JSON_TOOL_NAME, description: 'Respond with your answer as a JSON object.', input_schema: { type: 'object', additionalProperties: true } };
  }
  return undefined;
}
