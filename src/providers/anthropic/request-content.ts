/**
 * Canonical message content → Anthropic content blocks: text, images (data: URLs → base64
 * sources, http(s) URLs → url sources), PDFs, assistant tool calls → tool_use, tool messages →
 * tool_result, and thinking blocks sent back. `cache_control` on parts is kept. Content parts of
 * types OpenAI does not define are passed on as they are (Anthropic-native blocks).
 */
import { GatewayError } from '../../gateway/errors.js';
import type { ChatMessage, ContentPart } from '../../gateway/types.js';
import type { CacheControl, ContentBlockParam, DocumentBlockParam, ImageBlockParam, ImageSource, TextBlockParam, ToolResultBlockParam } from './api.js';

function invalid(param: string, problem: string): GatewayError {
  return new GatewayError('invalid_request', `${param} ${problem}`, { param });
}

function textBlock(text: string, cache: unknown): TextBlockParam {
  return cache ? { type: 'text', text, cache_control: cache as CacheControl } : { type: 'text', text };
}

/** A system / developer message → text blocks (Anthropic's `system` takes text only). */
export function convertSystem(message: ChatMessage, index: number): TextBlockParam[] {
  const content = message.content;
  const blocks: TextBlockParam[] = [];
  if (typeof content === 'string') {
    if (content !== '') blocks.push(textBlock(content, undefined));
  } else if (Array.isArray(content)) {
    for (let j = 0; j < content.length; j++) {
      const part = content[j]!;
      if (part.type !== 'text' || typeof part.text !== 'string') {
        throw invalid(`messages[${index}].content[${j}]`, `is a "${part.type}" part: ${message.role} messages may only contain text for Anthropic models.`);
      }
      if (part.text !== '' || part.cache_control) blocks.push(textBlock(part.text, part.cache_control));
    }
  }
  const cache = message.cache_control;
  const last = blocks[blocks.length - 1];
  if (cache && last) blocks[blocks.length - 1] = textBlock(last.text, cache);
  return blocks;
}

/**
 * A user message's content: a string stays a string; parts become blocks. Empty text parts, which
 * OpenAI takes and Anthropic refuses ("text content blocks must be non-empty"), are left out,
 * unless nothing else is there (then Anthropic's own answer says what is wrong).
 */
export function convertUserContent(content: ChatMessage['content'], path: string): string | ContentBlockParam[] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalid(path, 'is required for user messages.');
  const blocks: ContentBlockParam[] = [];
  for (let j = 0; j < content.length; j++) {
    const part = content[j]!;
    if (part.type === 'text' && part.text === '' && !part.cache_control) continue;
    blocks.push(convertPart(part, `${path}[${j}]`));
  }
  return blocks.length > 0 ? blocks : content.map((part, j) => convertPart(part, `${path}[${j}]`));
}

function convertPart(part: ContentPart, path: string): ContentBlockParam {
  switch (part.type) {
    case 'text':
      if (typeof part.text !== 'string') throw invalid(`${path}.text`, 'must be a string.');
      return textBlock(part.text, part.cache_control);
    case 'image_url': {
      const image = part.image_url as { url?: unknown } | string | undefined;
      const url = typeof image === 'string' ? image : image?.url;
      if (typeof url !== 'string') throw invalid(`${path}.image_url.url`, 'must be a string (an https:// or data: URL).');
      const block: ImageBlockParam = { type: 'image', source: imageSource(url, `${path}.image_url.url`) };
      if (part.cache_control) block.cache_control = part.cache_control as CacheControl;
      return block;
    }
    case 'file':
      return documentBlock(part, path);
    case 'input_audio':
      throw invalid(path, 'is an audio part: Anthropic models do not accept audio input.');
    default:
      return part as ContentBlockParam;
  }
}

function imageSource(url: string, path: string): ImageSource {
  if (url.slice(0, 5).toLowerCase() === 'data:') return base64Source(url, path);
  if (url.startsWith('https://') || url.startsWith('http://')) return { type: 'url', url };
  throw invalid(path, 'must be an https:// URL or a base64 data: URL.');
}

/** `data:<media type>[;params];base64,<data>` → a base64 source. */
function base64Source(url: string, path: string): { type: 'base64'; media_type: string; data: string } {
  const comma = url.indexOf(',');
  const header = comma > 0 ? url.slice(5, comma) : '';
  const semicolon = header.indexOf(';');
  const mediaType = semicolon > 0 ? header.slice(0, semicolon).toLowerCase() : '';
  if (!header.toLowerCase().endsWith(';base64') || mediaType === '') {
    throw invalid(path, 'must be a base64 data: URL (data:<media type>;base64,<data>).');
  }
  return { type: 'base64', media_type: mediaType, data: url.slice(comma + 1) };
}

/** OpenAI's `file` part (inline `file_data`, e.g. a PDF) → a document block. */
function documentBlock(part: ContentPart, path: string): DocumentBlockParam {
  const file = part.file as { file_data?: unknown; file_id?: unknown; filename?: unknown } | undefined;
  if (typeof file?.file_data !== 'string') {
    throw invalid(`${path}.file.file_data`, 'is required for Anthropic models (OpenAI file ids cannot be read by Anthropic): send the file inline as a base64 data: URL.');
  }
  const block: DocumentBlockParam = { type: 'document', source: base64Source(file.file_data, `${path}.file.file_data`) };
  if (typeof file.filename === 'string') block.title = file.filename;
  if (part.cache_control) block.cache_control = part.cache_control as CacheControl;
  return block;
}

/**
 * An assistant message → thinking blocks first (Anthropic requires them to lead the turn they came
 * from), then text, then tool_use blocks. Undefined when nothing is left (Anthropic rejects empty
 * assistant turns).
 */
export function convertAssistant(message: ChatMessage, index: number): string | ContentBlockParam[] | undefined {
  const { content, tool_calls: toolCalls, thinking_blocks: thinking } = message;
  const hasExtras = (toolCalls?.length ?? 0) > 0 || (thinking?.length ?? 0) > 0;
  if (typeof content === 'string' && !hasExtras) return content === '' ? undefined : content;

  const blocks: ContentBlockParam[] = [];
  for (const block of thinking ?? []) {
    if (block?.type === 'redacted_thinking') blocks.push({ type: 'redacted_thinking', data: String(block.data ?? '') });
    else if (block?.type === 'thinking') blocks.push({ type: 'thinking', thinking: String(block.thinking ?? ''), signature: String(block.signature ?? '') });
  }
  if (typeof content === 'string') {
    if (content !== '') blocks.push({ type: 'text', text: content });
  } else if (Array.isArray(content)) {
    for (let j = 0; j < content.length; j++) {
      const part = content[j]!;
      if (part.type === 'refusal') continue; // OpenAI's refusal text is not model input
      if (part.type === 'text' && part.text === '' && !part.cache_control) continue;
      blocks.push(convertPart(part, `messages[${index}].content[${j}]`));
    }
  }
  toolCalls?.forEach((call, j) => {
    blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseArguments(call.function.arguments, `messages[${index}].tool_calls[${j}].function.arguments`) });
  });
  return blocks.length > 0 ? blocks : undefined;
}

/** Anthropic takes a tool call's input as an object; OpenAI sends it as JSON text. */
function parseArguments(text: string, path: string): unknown {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(path, 'is not valid JSON: Anthropic models need the arguments of earlier tool calls as a JSON object.');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(path, 'must be a JSON object for Anthropic models.');
  }
  return value;
}

/** A `role: tool` message → a tool_result block (grouped into one user turn by the caller). */
export function convertToolResult(message: ChatMessage, index: number): ToolResultBlockParam {
  if (typeof message.tool_call_id !== 'string' || message.tool_call_id === '') {
    throw invalid(`messages[${index}].tool_call_id`, 'is required for tool messages.');
  }
  const block: ToolResultBlockParam = { type: 'tool_result', tool_use_id: message.tool_call_id };
  const content = message.content;
  if (typeof content === 'string') block.content = content;
  else if (Array.isArray(content)) block.content = convertUserContent(content, `messages[${index}].content`) as ToolResultBlockParam['content'];
  if (message.cache_control) block.cache_control = message.cache_control as CacheControl;
  return block;
}
