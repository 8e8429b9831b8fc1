/**
 * Canonical (OpenAI chat) request → Gemini generateContent request. Pure: the input is never
 * modified, so a retry can translate the same request again.
 *
 * Decisions (from the v1beta API reference):
 * - system / developer messages, wherever they appear, become `systemInstruction` (Gemini has one);
 *   a request with nothing but system messages sends them as the user turn instead.
 * - tool parameters go to `parametersJsonSchema` and json_schema output to `responseJsonSchema`:
 *   both take JSON Schema as-is (additionalProperties, $ref, anyOf, ...), unlike the OpenAPI-subset
 *   `parameters` / `responseSchema`, so no keyword stripping beyond the `$schema` meta field.
 * - tool results become `functionResponse` parts in a user turn; a result that is a JSON object is
 *   sent as the response, anything else as `{"output": text}` (the key the reference names).
 * - a tool call's thought signature travels in `tool_calls[].extra_content.google.thought_signature`
 *   (the field Google's own OpenAI-compatible endpoint uses) and is sent back on the functionCall.
 */
import { GatewayError } from '../../gateway/errors.js';
import type { ChatMessage, ChatRequest, ContentPart, ToolCall } from '../../gateway/types.js';
import type { GeminiContent, GeminiFunctionDeclaration, GeminiGenerationConfig, GeminiPart, GeminiRequest, GeminiThinkingConfig } from './api.js';
import { toGeminiThinking } from './thinking.js';
import { forcedFunction, requireFunctionTools } from '../function-tools.js';

export function buildGenerateContentRequest(request: ChatRequest, upstreamModel: string): GeminiRequest {
  requireFunctionTools(request, 'Gemini');
  const { contents, system } = translateMessages(request.messages);
  const body: GeminiRequest = { contents };
  if (system.length > 0) {
    if (contents.length === 0) contents.push({ role: 'user', parts: system });
    else body.systemInstruction = { parts: system };
  }
  const declarations = translateTools(request);
  if (declarations.length > 0) {
    body.tools = [{ functionDeclarations: declarations }];
    const toolConfig = translateToolChoice(request);
    if (toolConfig) body.toolConfig = toolConfig;
  }
  const generationConfig = translateGenerationConfig(request, upstreamModel);
  if (generationConfig) body.generationConfig = generationConfig;
  // Gemini-native fields a client may send alongside the OpenAI ones.
  const safety = request.safety_settings ?? request.safetySettings;
  if (Array.isArray(safety)) body.safetySettings = safety;
  const cached = request.cached_content ?? request.cachedContent;
  if (typeof cached === 'string' && cached !== '') body.cachedContent = cached;
  return body;
}

function translateMessages(messages: ChatMessage[]): { contents: GeminiContent[]; system: GeminiPart[] } {
  const contents: GeminiContent[] = [];
  const system: GeminiPart[] = [];
  // Tool results name the function they answer; Gemini wants the name, OpenAI gives the call id.
  const callNames = new Map<string, string>();
  messages.forEach((message, i) => {
    switch (message.role) {
      case 'system':
      case 'developer':
        for (const text of textsOf(message, i)) if (text !== '') system.push({ text });
        return;
      case 'user':
        pushTurn(contents, 'user', userParts(message, i));
        return;
      case 'assistant':
        pushTurn(contents, 'model', assistantParts(message, i, callNames));
        return;
      case 'tool':
      case 'function':
        pushTurn(contents, 'user', [toolResultPart(message, i, callNames)]);
        return;
      default:
        throw invalid(`messages[${i}].role`, `'${String(message.role)}' is not a role the Gemini provider can send`);
    }
  });
  return { contents, system };
}

/** Consecutive turns of the same role are merged: Gemini expects user and model to alternate. */
function pushTurn(contents: GeminiContent[], role: 'user' | 'model', parts: GeminiPart[]): void {
  if (parts.length === 0) return;
  const last = contents[contents.length - 1];
  if (last?.role === role) last.parts!.push(...parts);
  else contents.push({ role, parts });
}

function userParts(message: ChatMessage, i: number): GeminiPart[] {
  const content = message.content;
  if (typeof content === 'string' || content == null) return [{ text: content ?? '' }];
  const parts: GeminiPart[] = [];
  content.forEach((part, j) => {
    const translated = contentPart(part, `messages[${i}].content[${j}]`);
    if (translated) parts.push(translated);
  });
  // An empty user turn is still a turn; Gemini judges whether it is acceptable.
  return parts.length > 0 ? parts : [{ text: '' }];
}

function assistantParts(message: ChatMessage, i: number, callNames: Map<string, string>): GeminiPart[] {
  const parts: GeminiPart[] = [];
  for (const text of textsOf(message, i)) if (text !== '') parts.push({ text });
  message.tool_calls?.forEach((call, j) => {
    callNames.set(call.id, call.function.name);
    const part: GeminiPart = { functionCall: { id: call.id, name: call.function.name, args: parseArguments(call, `messages[${i}].tool_calls[${j}].function.arguments`) } };
    const signature = thoughtSignatureOf(call);
    if (signature) part.thoughtSignature = signature;
    parts.push(part);
  });
  return parts;
}

function toolResultPart(message: ChatMessage, i: number, callNames: Map<string, string>): GeminiPart {
  const id = message.tool_call_id;
  const name = (id !== undefined ? callNames.get(id) : undefined) ?? message.name;
  if (!name) {
    throw invalid(`messages[${i}].tool_call_id`, 'does not match a tool call of an earlier assistant message (Gemini needs the function name of each tool result)');
  }
  const text = textsOf(message, i).join('');
  const response: GeminiPart['functionResponse'] = { name, response: asResponseObject(text) };
  if (id !== undefined) response.id = id;
  return { functionResponse: response };
}

function asResponseObject(text: string): Record<string, unknown> {
  const first = text.trimStart()[0];
  if (first === '{') {
    try {
      const value: unknown = JSON.parse(text);
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // not JSON: sent as text below
    }
  }
  return { output: text };
}

function parseArguments(call: ToolCall, param: string): Record<string, unknown> {
  const text = call.function.arguments;
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(param, 'is not valid JSON (Gemini needs tool call arguments as a JSON object)');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(param, 'must be a JSON object (Gemini needs tool call arguments as an object)');
  return value as Record<string, unknown>;
}

function thoughtSignatureOf(call: ToolCall): string | undefined {
  const extra = call.extra_content as { google?: { thought_signature?: unknown } } | undefined;
  const signature = extra?.google?.thought_signature;
  return typeof signature === 'string' && signature !== '' ? signature : undefined;
}

/** The text of a message whose content may only be text (system, assistant, tool). */
function textsOf(message: ChatMessage, i: number): string[] {
  const content = message.content;
  if (content == null) return [];
  if (typeof content === 'string') return [content];
  return content.map((part, j) => {
    if ((part.type === 'text' || part.type === 'refusal') && typeof (part.text ?? part.refusal) === 'string') return (part.text ?? part.refusal) as string;
    throw invalid(`messages[${i}].content[${j}].type`, `'${part.type}' parts are not supported in ${message.role} messages by the Gemini provider (text only)`);
  });
}

function contentPart(part: ContentPart, param: string): GeminiPart | undefined {
  switch (part.type) {
    case 'text':
      if (typeof part.text !== 'string') throw invalid(`${param}.text`, 'must be a string');
      return part.text === '' ? undefined : { text: part.text };
    case 'image_url': {
      const image = part.image_url as { url?: unknown } | string | undefined;
      const url = typeof image === 'string' ? image : image?.url;
      if (typeof url !== 'string' || url === '') throw invalid(`${param}.image_url.url`, 'must be a data: URL or an http(s) URL');
      return mediaPart(url, `${param}.image_url.url`);
    }
    case 'input_audio': {
      const audio = part.input_audio as { data?: unknown; format?: unknown } | undefined;
      if (typeof audio?.data !== 'string') throw invalid(`${param}.input_audio.data`, 'must be base64 audio');
      const format = typeof audio.format === 'string' ? audio.format : 'wav';
      return { inlineData: { mimeType: format === 'mp3' ? 'audio/mpeg' : `audio/${format}`, data: audio.data } };
    }
    case 'file': {
      const file = part.file as { file_data?: unknown } | undefined;
      if (typeof file?.file_data !== 'string') throw invalid(`${param}.file.file_data`, 'must be a data: URL (file ids are not supported by the Gemini provider)');
      return mediaPart(file.file_data, `${param}.file.file_data`);
    }
    default:
      throw invalid(`${param}.type`, `'${part.type}' content parts are not supported by the Gemini provider`);
  }
}

const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),/;
const URL_EXTENSION = /\.([a-z0-9]+)$/i;
const MIME_BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', heic: 'image/heic', heif: 'image/heif',
  pdf: 'application/pdf', txt: 'text/plain', mp3: 'audio/mpeg', wav: 'audio/wav', ogg: 'audio/ogg', flac: 'audio/flac', mp4: 'video/mp4', mov: 'video/quicktime', webm: 'video/webm',
};

/** data: URLs become inline bytes; http(s) URLs a file reference (Google fetches it, or refuses). */
function mediaPart(url: string, param: string): GeminiPart {
  const data = DATA_URL.exec(url);
  if (data) {
    const mimeType = data[1] || 'application/octet-stream';
    const payload = url.slice(data[0].length);
    const base64 = data[2]!.split(';').includes('base64') ? payload : Buffer.from(decodeURIComponent(payload), 'utf8').toString('base64');
    return { inlineData: { mimeType, data: base64 } };
  }
  if (url.startsWith('https://') || url.startsWith('http://')) {
    let path = url;
    try {
      path = new URL(url).pathname;
    } catch {
      throw invalid(param, 'is not a valid URL');
    }
    const extension = URL_EXTENSION.exec(path)?.[1]?.toLowerCase();
    return { fileData: { mimeType: (extension && MIME_BY_EXTENSION[extension]) || 'image/jpeg', fileUri: url } };
  }
  throw invalid(param, 'must be a data: URL or an http(s) URL');
}

function translateTools(request: ChatRequest): GeminiFunctionDeclaration[] {
  const tools = request.tools;
  if (!Array.isArray(tools)) return [];
  return tools.map((tool, i) => {
    if (tool.type !== 'function') throw invalid(`tools[${i}].type`, `'${String(tool.type)}' tools are not supported by the Gemini provider (function tools only)`);
    if (!tool.function || typeof tool.function.name !== 'string') throw invalid(`tools[${i}].function`, 'a function tool needs a "function" object with a "name"');
    const declaration: GeminiFunctionDeclaration = { name: tool.function.name };
    if (typeof tool.function.description === 'string') declaration.description = tool.function.description;
    if (tool.function.parameters) declaration.parametersJsonSchema = withoutSchemaKeyword(tool.function.parameters);
    return declaration;
  });
}

function translateToolChoice(request: ChatRequest): GeminiRequest['toolConfig'] {
  const choice = request.tool_choice;
  if (choice == null) return undefined;
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [forcedFunction(choice, 'Gemini')!] } };
}

function translateGenerationConfig(request: ChatRequest, upstreamModel: string): GeminiGenerationConfig | undefined {
  const config: GeminiGenerationConfig = {};
  let any = false;
  const set = <K extends keyof GeminiGenerationConfig>(key: K, value: GeminiGenerationConfig[K] | undefined): void => {
    if (value === undefined) return;
    config[key] = value;
    any = true;
  };
  set('temperature', numberOf(request.temperature));
  set('topP', numberOf(request.top_p));
  set('topK', numberOf(request.top_k));
  set('maxOutputTokens', numberOf(request.max_completion_tokens) ?? numberOf(request.max_tokens));
  const stop = request.stop;
  if (typeof stop === 'string') set('stopSequences', [stop]);
  else if (Array.isArray(stop) && stop.length > 0) set('stopSequences', stop.filter((s): s is string => typeof s === 'string'));
  const n = numberOf(request.n);
  if (n !== undefined && n > 1) set('candidateCount', n);
  set('seed', numberOf(request.seed));
  set('presencePenalty', numberOf(request.presence_penalty));
  set('frequencyPenalty', numberOf(request.frequency_penalty));
  const format = request.response_format;
  if (format?.type === 'json_object') {
    set('responseMimeType', 'application/json');
  } else if (format?.type === 'json_schema') {
    set('responseMimeType', 'application/json');
    const schema = format.json_schema?.schema;
    if (schema) set('responseJsonSchema', withoutSchemaKeyword(schema));
  }
  if (request.logprobs === true) {
    set('responseLogprobs', true);
    set('logprobs', numberOf(request.top_logprobs));
  }
  const thinking: GeminiThinkingConfig | undefined = toGeminiThinking(request, upstreamModel);
  set('thinkingConfig', thinking);
  return any ? config : undefined;
}

/** `$schema` only names the dialect; the Gemini API is not documented to accept it, so it is left out. */
function withoutSchemaKeyword(schema: Record<string, unknown>): Record<string, unknown> {
  if (!('$schema' in schema)) return schema;
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

function numberOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function invalid(param: string, problem: string): GatewayError {
  return new GatewayError('invalid_request', `Invalid request: '${param}' ${problem}.`, { param });
}
