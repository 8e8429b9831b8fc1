/**
 * Canonical (OpenAI chat) request → Bedrock Converse request body.
 *
 * - system / developer messages → `system` text blocks; the rest → alternating user / assistant
 *   turns (consecutive same-role turns merged; tool results go into a user turn).
 * - Only inline images (`data:` URLs) can be sent: Converse takes image bytes, not URLs.
 * - `cache_control` on a part, a message or a tool → a `cachePoint` block after it.
 * - `tool_choice: "none"` → no toolConfig (Converse has no "none"), unless the conversation already
 *   holds tool calls: Bedrock then requires the tools, and the model may still call one.
 * - `response_format` json_object / json_schema → a forced tool (JSON_TOOL_NAME) whose input schema
 *   is the requested schema; the answer's tool input is turned back into the message text
 *   (response.ts / stream.ts). It works on every model that supports `toolChoice` (Anthropic,
 *   Mistral Large, Nova); others reject the request with Bedrock's own 400.
 *   With thinking on (Claude forbids a forced tool then) the tool is offered with `auto` and asked
 *   for in the system prompt instead, as on the Anthropic API.
 * - `thinking` (canonical extension) → `additionalModelRequestFields.thinking` (Claude on Bedrock);
 *   for Claude models `reasoning_effort` becomes thinking as on the Anthropic API (an unknown
 *   effort is a 400 for every model), and `top_k` goes there too. Other models' reasoning
 *   settings have no common Converse field: they are left out.
 */
import { GatewayError } from '../../gateway/errors.js';
import { effortThinking, thinksAdaptively, type EffortThinking } from '../anthropic/claude-models.js';
import type { ChatMessage, ChatRequest, ContentPart, ToolDefinition } from '../../gateway/types.js';
import { forcedFunction, requireFunctionTools } from '../function-tools.js';
import type {
  BedrockCachePoint,
  BedrockContentBlock,
  BedrockImageBlock,
  BedrockImageFormat,
  BedrockInferenceConfig,
  BedrockMessage,
  BedrockSystemBlock,
  BedrockToolConfig,
  BedrockToolSpec,
  ConverseRequestBody,
} from './api.js';

/** The forced tool that carries a JSON answer when the client asked for `response_format`. */
export const JSON_TOOL_NAME = 'json_response';

export interface ConverseBuildOptions {
  /** inferenceConfig.maxTokens when the request sets neither max_completion_tokens nor max_tokens. */
  defaultMaxTokens?: number;
  /** The Bedrock model id (or inference profile) the request goes to. */
  modelId?: string;
}

export interface BuiltConverseRequest {
  body: ConverseRequestBody;
  /** Set when a JSON answer is emulated with a forced tool: its name. */
  jsonTool: string | undefined;
}

const CACHE_POINT: BedrockCachePoint = { cachePoint: { type: 'default' } };

export function buildConverseRequest(request: ChatRequest, options: ConverseBuildOptions = {}): BuiltConverseRequest {
  if (request.n != null && request.n > 1) {
    throw new GatewayError('invalid_request', 'Amazon Bedrock returns one choice per request: n must be 1.', { param: 'n' });
  }
  requireFunctionTools(request, 'Amazon Bedrock');
  const system: BedrockSystemBlock[] = [];
  const messages: BedrockMessage[] = [];
  let hasToolBlocks = false;
  request.messages.forEach((message, index) => {
    const role = message.role;
    if (role === 'system' || role === 'developer') {
      appendSystem(system, message, index);
      return;
    }
    let turnRole: 'user' | 'assistant';
    let blocks: BedrockContentBlock[];
    if (role === 'user') {
      turnRole = 'user';
      blocks = userBlocks(message.content, `messages[${index}].content`);
    } else if (role === 'assistant') {
      turnRole = 'assistant';
      blocks = assistantBlocks(message, index);
      if (message.tool_calls?.length) hasToolBlocks = true;
    } else if (role === 'tool') {
      turnRole = 'user';
      blocks = [toolResultBlock(message, index)];
      hasToolBlocks = true;
    } else {
      throw new GatewayError('invalid_request', `Amazon Bedrock does not support messages with role "${role}"; use "tool" messages for tool results.`, {
        param: `messages[${index}].role`,
      });
    }
    if (message.cache_control != null) addCachePoint(blocks);
    if (blocks.length === 0) return; // Bedrock rejects empty turns
    const last = messages[messages.length - 1];
    if (last?.role === turnRole) last.content.push(...blocks);
    else messages.push({ role: turnRole, content: blocks });
  });

  const modelId = options.modelId ?? '';
  const claude = modelId.includes('anthropic.claude');
  const adaptive = thinksAdaptively(modelId);
  const choice = request.tool_choice;
  const forcedTool = choice === 'required' || (typeof choice === 'object' && choice !== null);
  const clientMaxTokens = request.max_completion_tokens ?? request.max_tokens ?? undefined;
  // Validated for every model; only Claude's request has a place for it.
  const fromEffort = request.thinking == null ? effortThinking(request.reasoning_effort, clientMaxTokens, forcedTool, adaptive) : undefined;
  const thinking = request.thinking != null && typeof request.thinking === 'object' ? (request.thinking as Record<string, unknown>) : claude ? fromEffort?.thinking : undefined;
  const thinkingOn = thinking?.type === 'enabled' || thinking?.type === 'adaptive';

  const body: ConverseRequestBody = { messages };
  const inferenceConfig = buildInferenceConfig(request, options, claude ? thinkingRoom(thinking, fromEffort) : 0);
  if (inferenceConfig) body.inferenceConfig = inferenceConfig;
  const { toolConfig, jsonTool } = buildToolConfig(request, hasToolBlocks, thinkingOn);
  if (toolConfig) body.toolConfig = toolConfig;
  if (jsonTool && thinkingOn) system.push({ text: `Give your final answer by calling the ${JSON_TOOL_NAME} tool; its input is the answer.` });
  if (system.length > 0) body.system = system;
  const additional: Record<string, unknown> = {};
  if (thinking) additional.thinking = thinking;
  if (claude && fromEffort?.effort && thinking === fromEffort.thinking) additional.output_config = { effort: fromEffort.effort };
  if (claude && !adaptive && typeof request.top_k === 'number') additional.top_k = request.top_k;
  if (Object.keys(additional).length > 0) body.additionalModelRequestFields = additional;
  return { body, jsonTool };
}

function appendSystem(system: BedrockSystemBlock[], message: ChatMessage, index: number): void {
  const content = message.content;
  if (typeof content === 'string') {
    if (content.trim() !== '') system.push({ text: content });
  } else if (Array.isArray(content)) {
    content.forEach((part, partIndex) => {
      if (part.type !== 'text' || typeof part.text !== 'string') {
        throw new GatewayError('invalid_request', `System messages sent to Amazon Bedrock may hold only text parts (got "${part.type}").`, {
          param: `messages[${index}].content[${partIndex}]`,
        });
      }
      if (part.text.trim() !== '') system.push({ text: part.text });
      if (part.cache_control != null) addCachePoint(system);
    });
  }
  if (message.cache_control != null) addCachePoint(system);
}

/** A cache point after the last block (one is enough; none before any content). */
function addCachePoint(blocks: (BedrockContentBlock | BedrockSystemBlock)[]): void {
  const last = blocks[blocks.length - 1];
  if (last && !('cachePoint' in last)) blocks.push(CACHE_POINT);
}

function userBlocks(content: ChatMessage['content'], param: string): BedrockContentBlock[] {
  if (typeof content === 'string') return content.trim() === '' ? [] : [{ text: content }];
  if (!Array.isArray(content)) return [];
  const blocks: BedrockContentBlock[] = [];
  content.forEach((part, partIndex) => {
    const block = partBlock(part, `${param}[${partIndex}]`);
    if (block) blocks.push(block);
    if (part.cache_control != null) addCachePoint(blocks);
  });
  return blocks;
}

function partBlock(part: ContentPart, param: string): BedrockContentBlock | undefined {
  if (part.type === 'text') {
    if (typeof part.text !== 'string') throw new GatewayError('invalid_request', 'A text part needs a "text" string.', { param });
    return part.text.trim() === '' ? undefined : { text: part.text };
  }
  if (part.type === 'image_url') {
    const imageUrl = part.image_url as { url?: unknown } | string | undefined;
    const url = typeof imageUrl === 'string' ? imageUrl : imageUrl?.url;
    if (typeof url !== 'string') throw new GatewayError('invalid_request', 'An image_url part needs "image_url.url".', { param: `${param}.image_url.url` });
    return imageBlock(url, `${param}.image_url.url`);
  }
  throw new GatewayError('invalid_request', `Amazon Bedrock (Converse) does not accept content parts of type "${part.type}" here.`, { param: `${param}.type` });
}

const IMAGE_FORMATS: Record<string, BedrockImageFormat> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/** `data:image/png;base64,....` → an image block with the base64 bytes. */
export function imageBlock(url: string, param: string): BedrockImageBlock {
  if (!url.startsWith('data:')) {
    throw new GatewayError(
      'invalid_request',
      'Amazon Bedrock accepts only inline images: send the image as a data URL (data:image/png;base64,...), not as a link.',
      { param },
    );
  }
  const comma = url.indexOf(',');
  const header = comma === -1 ? '' : url.slice(5, comma).toLowerCase();
  const [mime = '', ...flags] = header.split(';');
  const format = IMAGE_FORMATS[mime];
  if (!format || !flags.includes('base64')) {
    throw new GatewayError('invalid_request', 'Amazon Bedrock accepts base64 data URLs of PNG, JPEG, GIF or WebP images.', { param });
  }
  return { image: { format, source: { bytes: url.slice(comma + 1) } } };
}

function assistantBlocks(message: ChatMessage, index: number): BedrockContentBlock[] {
  const blocks: BedrockContentBlock[] = [];
  // Thinking goes back first and verbatim (with its signature), as Claude requires.
  for (const thinking of message.thinking_blocks ?? []) {
    if (thinking.type === 'thinking' && typeof thinking.thinking === 'string') {
      const reasoningText: { text: string; signature?: string } = { text: thinking.thinking };
      if (thinking.signature) reasoningText.signature = thinking.signature;
      blocks.push({ reasoningContent: { reasoningText } });
    } else if (thinking.type === 'redacted_thinking' && typeof thinking.data === 'string') {
      blocks.push({ reasoningContent: { redactedContent: thinking.data } });
    }
  }
  const content = message.content;
  if (typeof content === 'string') {
    if (content.trim() !== '') blocks.push({ text: content });
  } else if (Array.isArray(content)) {
    content.forEach((part, partIndex) => {
      const param = `messages[${index}].content[${partIndex}]`;
      if (part.type !== 'text' && part.type !== 'refusal') {
        throw new GatewayError('invalid_request', `Assistant messages sent to Amazon Bedrock may hold only text parts (got "${part.type}").`, { param });
      }
      const text = typeof part.text === 'string' ? part.text : typeof part.refusal === 'string' ? part.refusal : '';
      if (text.trim() !== '') blocks.push({ text });
      if (part.cache_control != null) addCachePoint(blocks);
    });
  }
  message.tool_calls?.forEach((call, callIndex) => {
    blocks.push({ toolUse: { toolUseId: call.id, name: call.function.name, input: parseArguments(call.function.arguments, `messages[${index}].tool_calls[${callIndex}].function.arguments`) } });
  });
  return blocks;
}

function parseArguments(text: string, param: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError('invalid_request', 'Tool call arguments must be valid JSON to be sent to Amazon Bedrock.', { param });
  }
}

function toolResultBlock(message: ChatMessage, index: number): BedrockContentBlock {
  if (typeof message.tool_call_id !== 'string' || message.tool_call_id === '') {
    throw new GatewayError('invalid_request', 'A tool message needs the "tool_call_id" of the call it answers.', { param: `messages[${index}].tool_call_id` });
  }
  const content: ({ text: string } | BedrockImageBlock)[] = [];
  const value = message.content;
  if (typeof value === 'string') {
    if (value.trim() !== '') content.push({ text: value });
  } else if (Array.isArray(value)) {
    value.forEach((part, partIndex) => {
      const block = partBlock(part, `messages[${index}].content[${partIndex}]`);
      if (block && ('text' in block || 'image' in block)) content.push(block);
    });
  }
  return { toolResult: { toolUseId: message.tool_call_id, content } };
}

/** Thinking's budget, given on top of the default max tokens when the client set none (OpenAI's limit includes reasoning). */
function thinkingRoom(thinking: Record<string, unknown> | undefined, fromEffort: EffortThinking | undefined): number {
  if (thinking && thinking === fromEffort?.thinking) return fromEffort.room;
  return thinking?.type === 'enabled' && typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : 0;
}

/**
 * Claude refuses a thinking budget that is not below max tokens, and the model's own default is
 * no help: with thinking on and no max tokens from the client or the provider's
 * `default_max_tokens`, the budget goes on top of this (the anthropic provider's default).
 */
const THINKING_BASE_MAX_TOKENS = 4096;

function buildInferenceConfig(request: ChatRequest, options: ConverseBuildOptions, thinkingRoom: number): BedrockInferenceConfig | undefined {
  const config: BedrockInferenceConfig = {};
  const base = options.defaultMaxTokens ?? (thinkingRoom > 0 ? THINKING_BASE_MAX_TOKENS : undefined);
  const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? (base === undefined ? undefined : base + thinkingRoom);
  if (maxTokens != null) config.maxTokens = maxTokens;
  // Claude's newest models refuse sampling parameters ("temperature is deprecated for this model").
  if (!thinksAdaptively(options.modelId ?? '')) {
    if (typeof request.temperature === 'number') config.temperature = request.temperature;
    if (typeof request.top_p === 'number') config.topP = request.top_p;
  }
  const stop = request.stop;
  if (typeof stop === 'string') config.stopSequences = [stop];
  else if (Array.isArray(stop) && stop.length > 0) config.stopSequences = stop.filter((s): s is string => typeof s === 'string');
  return Object.keys(config).length > 0 ? config : undefined;
}

function buildToolConfig(request: ChatRequest, hasToolBlocks: boolean, thinking: boolean): { toolConfig: BedrockToolConfig | undefined; jsonTool: string | undefined } {
  const choice = request.tool_choice;
  const tools: (BedrockToolSpec | BedrockCachePoint)[] = [];
  let clientTools = 0;
  request.tools?.forEach((tool, index) => {
    tools.push(toolSpec(tool, index));
    clientTools += 1;
    if (tool.cache_control != null) tools.push(CACHE_POINT);
  });
  // "none": Converse cannot forbid tool calls, so the tools are left out (when Bedrock allows it).
  const toolsOff = choice === 'none' && !hasToolBlocks;
  const activeTools = toolsOff ? [] : tools;
  const jsonSchema = jsonAnswerSchema(request);
  if (jsonSchema) {
    activeTools.push({ toolSpec: { name: JSON_TOOL_NAME, description: 'Answer with a JSON value following this schema.', inputSchema: { json: jsonSchema } } });
  }
  if (activeTools.length === 0) return { toolConfig: undefined, jsonTool: undefined };
  const toolConfig: BedrockToolConfig = { tools: activeTools };
  const toolsUsable = clientTools > 0 && choice !== 'none';
  if (jsonSchema && thinking && choice !== 'required' && !(typeof choice === 'object' && choice !== null)) {
    // Claude refuses a forced tool while thinking: the tool is offered, and asked for in the system prompt.
    toolConfig.toolChoice = { auto: {} };
  } else if (jsonSchema && !(typeof choice === 'object' && choice !== null)) {
    // The answer must be JSON: the JSON tool alone is forced; beside client tools, any tool is.
    toolConfig.toolChoice = toolsUsable ? { any: {} } : { tool: { name: JSON_TOOL_NAME } };
  } else if (choice === 'auto') {
    toolConfig.toolChoice = { auto: {} };
  } else if (choice === 'required') {
    toolConfig.toolChoice = { any: {} };
  } else if (typeof choice === 'object' && choice !== null) {
    toolConfig.toolChoice = { tool: { name: forcedFunction(choice, 'Amazon Bedrock')! } };
  }
  return { toolConfig, jsonTool: jsonSchema ? JSON_TOOL_NAME : undefined };
}

function toolSpec(tool: ToolDefinition, index: number): BedrockToolSpec {
  const fn = tool.function;
  if (tool.type !== 'function' || !fn) {
    throw new GatewayError('invalid_request', `Amazon Bedrock supports only function tools (got "${tool.type}").`, { param: `tools[${index}].type` });
  }
  const spec: BedrockToolSpec['toolSpec'] = { name: fn.name, inputSchema: { json: fn.parameters ?? { type: 'object', properties: {} } } };
  if (typeof fn.description === 'string' && fn.description !== '') spec.description = fn.description;
  return { toolSpec: spec };
}

/** The schema a JSON answer must follow, when the client asked for one. */
function jsonAnswerSchema(request: ChatRequest): Record<string, unknown> | undefined {
  const format = request.response_format;
  if (format?.type === 'json_schema') return format.json_schema?.schema ?? { type: 'object' };
  if (format?.type === 'json_object') return { type: 'object' };
  return undefined;
}
