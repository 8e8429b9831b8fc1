/**
 * Custom tools (free-form input), their calls and `allowed_tools` are OpenAI's own: the Messages,
 * Gemini and Converse APIs have function tools only. A request that holds one is refused with a
 * 400 naming the field, before a translator would read a function that is not there.
 */
import { GatewayError } from '../gateway/errors.js';
import type { ChatRequest, ToolChoice } from '../gateway/types.js';

/** Throws the 400 for the first custom tool call in the conversation, or a tool_choice other than a function's. */
export function requireFunctionTools(request: ChatRequest, api: string): void {
  request.messages.forEach((message, i) => {
    message.tool_calls?.forEach((call, j) => {
      if (call.type !== 'function' || call.function == null) {
        throw new GatewayError('invalid_request', `${api} takes function tool calls only; messages[${i}].tool_calls[${j}] is of type ${JSON.stringify(call.type)} (custom tools are OpenAI's).`, { param: `messages[${i}].tool_calls[${j}]` });
      }
    });
  });
  forcedFunction(request.tool_choice, api);
}

/** The function a tool_choice forces (undefined for a mode); a custom or allowed_tools choice is a 400. */
export function forcedFunction(choice: ToolChoice | null | undefined, api: string): string | undefined {
  if (choice == null || typeof choice !== 'object') return undefined;
  if (choice.type === 'function' && 'function' in choice && typeof choice.function?.name === 'string') return choice.function.name;
  throw new GatewayError('invalid_request', `${api} takes tool_choice "none", "auto", "required" or a function; ${JSON.stringify(choice.type)} is OpenAI's.`, { param: 'tool_choice' });
}
