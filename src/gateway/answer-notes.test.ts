import { describe, expect, it } from 'vitest';
import { expectAnthropicSchema, expectSchema, noteAnswer, noteStreamItem } from './answer-notes.js';
import { createRequestContext, type RequestContext } from './context.js';

const SCHEMA = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

function context(): RequestContext {
  return createRequestContext('req-1', 'chat', 0);
}

describe('expectSchema / expectAnthropicSchema', () => {
  it("take the schema of OpenAI's response_format and Anthropic's output_config.format (or the beta's output_format)", () => {
    const openai = context();
    expectSchema(openai, { type: 'json_schema', json_schema: { name: 'place', schema: SCHEMA } });
    expect([openai.answerSchema, openai.keepText]).toEqual([SCHEMA, true]);
    const anthropic = context();
    expectAnthropicSchema(anthropic, { output_config: { format: { type: 'json_schema', schema: SCHEMA } } });
    expect(anthropic.answerSchema).toBe(SCHEMA);
    const beta = context();
    expectAnthropicSchema(beta, { output_format: { type: 'json_schema', schema: SCHEMA } });
    expect(beta.answerSchema).toBe(SCHEMA);
  });

  it('ignore other formats', () => {
    for (const format of [{ type: 'json_object' }, { type: 'text' }, null, 'json_schema', { type: 'json_schema', json_schema: { name: 'x' } }]) {
      const rc = context();
      expectSchema(rc, format);
      expectAnthropicSchema(rc, { output_config: { format } });
      expect([rc.answerSchema, rc.keepText]).toEqual([undefined, false]);
    }
  });
});

describe('noteAnswer', () => {
  it("notes an OpenAI completion's finish reasons, emptiness and, when asked, its text", () => {
    const rc = context();
    rc.keepText = true;
    noteAnswer(rc, { choices: [{ finish_reason: 'length', message: { content: '{"city":' } }] });
    expect([rc.finishReasons, rc.answerEmpty, rc.answerText]).toEqual([['length'], false, '{"city":']);

    const empty = context();
    noteAnswer(empty, { choices: [{ finish_reason: 'stop', message: { content: '' } }] });
    expect([empty.answerEmpty, empty.answerText]).toEqual([true, undefined]);

    const toolCall = context();
    noteAnswer(toolCall, { choices: [{ finish_reason: 'tool_calls', message: { content: null, tool_calls: [{ id: 'c1' }] } }] });
    expect([toolCall.finishReasons, toolCall.answerEmpty]).toEqual([['tool_calls'], false]);
  });

  it("maps an Anthropic message's stop reason onto OpenAI's and joins its text blocks", () => {
    const rc = context();
    rc.keepText = true;
    noteAnswer(rc, { message: { stop_reason: 'max_tokens', content: [{ type: 'text', text: '{"ci' }, { type: 'text', text: 'ty":"Oslo"}' }] } });
    expect([rc.finishReasons, rc.answerEmpty, rc.answerText]).toEqual([['length'], false, '{"city":"Oslo"}']);

    const empty = context();
    noteAnswer(empty, { message: { stop_reason: 'end_turn', content: [{ type: 'text', text: '' }] } });
    expect([empty.finishReasons, empty.answerEmpty]).toEqual([['stop'], true]);

    const toolUse = context();
    noteAnswer(toolUse, { message: { stop_reason: 'tool_use', content: [{ type: 'tool_use' }] } });
    expect([toolUse.finishReasons, toolUse.answerEmpty]).toEqual([['tool_calls'], false]);
  });
});

describe('noteStreamItem', () => {
  it('collects OpenAI chunks: finish reasons, and the first choice\'s text when asked', () => {
    const rc = context();
    rc.keepText = true;
    noteStreamItem(rc, { choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }] });
    noteStreamItem(rc, { choices: [{ index: 1, delta: { content: 'other' }, finish_reason: null }] });
    noteStreamItem(rc, { choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'stop' }] });
    expect([rc.answerText, rc.finishReasons]).toEqual(['Hello', ['stop']]);

    const quiet = context();
    noteStreamItem(quiet, { choices: [{ index: 0, delta: { content: 'not kept' }, finish_reason: null }] });
    expect(quiet.answerText).toBeUndefined();
  });

  it("collects Anthropic events: text deltas when asked, the stop reason from message_delta", () => {
    const rc = context();
    rc.keepText = true;
    noteStreamItem(rc, { value: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi ' } } });
    noteStreamItem(rc, { value: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'there' } } });
    noteStreamItem(rc, { value: { type: 'message_delta', delta: { stop_reason: 'max_tokens' } } });
    expect([rc.answerText, rc.finishReasons]).toEqual(['Hi there', ['length']]);
  });
});
