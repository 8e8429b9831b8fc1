/** Test helpers shared by the assembler and replay tests: recorded OpenAI answers and streams. */
import { readFileSync } from 'node:fs';
import type { ChatCompletion, ChatCompletionChunk } from '../../gateway/types.js';
import { CompletionAssembler } from '../completion-assembler.js';

const fixturePath = (name: string): URL => new URL(`../../providers/openai/__fixtures__/${name}`, import.meta.url);

/** The JSON events of a recorded stream (single `data:` lines), parsed independently of the code under test. */
export function streamFixture(name: string): ChatCompletionChunk[] {
  return readFileSync(fixturePath(name), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]')
    .map((line) => JSON.parse(line.slice('data: '.length)) as Record<string, unknown>)
    .filter((event) => !('error' in event)) as ChatCompletionChunk[];
}

export const jsonFixture = (name: string): ChatCompletion => JSON.parse(readFileSync(fixturePath(name), 'utf8')) as ChatCompletion;

export function assemble(chunks: ChatCompletionChunk[]): CompletionAssembler {
  const assembler = new CompletionAssembler();
  for (const chunk of chunks) assembler.push(chunk);
  return assembler;
}

/** As a client would see it: through JSON, so `undefined` members and shared references do not count. */
export const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
