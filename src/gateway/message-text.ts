/** The text of a canonical message: its string content, or its text parts joined. */
import type { ChatMessage } from './types.js';

export function messageText(message: ChatMessage, separator = '\n'): string {
  const { content } = message;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  let first = true;
  for (const part of content) {
    if (typeof part.text !== 'string') continue;
    text += first ? part.text : separator + part.text;
    first = false;
  }
  return text;
}
