import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { checkJsonSchema, riskyPattern, schemaOf } from './json-schema-check.js';
import { MAX_MODELS, QualitySignals } from './quality.js';

describe('quality signals', () => {
  it('counts answers, truncation, empty answers and schema compliance per model group', async () => {
    const registry = new Registry();
    const quality = new QualitySignals(registry);
    quality.observe({ model: 'smart', finishReasons: ['stop'], empty: false, schema: { valid: true } });
    quality.observe({ model: 'smart', finishReasons: ['stop', 'length'], empty: false, schema: { valid: false } });
    quality.observe({ model: 'smart', finishReasons: ['length'], empty: true });
    quality.observe({ model: 'smart', finishReasons: ['tool_calls'], empty: false, schema: { valid: true } });
    quality.observe({ model: 'claude', finishReasons: ['max_tokens'], empty: false });
    quality.observe({ model: '', finishReasons: ['length'], empty: true }); // unresolved: not counted

    expect(quality.snapshot()).toEqual([
      { model: 'smart', answers: 4, truncated: 2, empty: 1, schema_valid: 2, schema_invalid: 1, truncation_rate: 0.5, empty_rate: 0.25, schema_compliance_rate: 0.666667 },
      { model: 'claude', answers: 1, truncated: 1, empty: 0, schema_valid: 0, schema_invalid: 0, truncation_rate: 1, empty_rate: 0, schema_compliance_rate: null },
    ]);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE switchyard_answers_total counter');
    expect(text).toContain('switchyard_answers_total{model="smart"} 4');
    expect(text).toContain('switchyard_answers_total{model="claude"} 1');
    expect(text).toContain('switchyard_answer_quality_total{model="smart",signal="truncated"} 2');
    expect(text).toContain('switchyard_answer_quality_total{model="smart",signal="empty"} 1');
    expect(text).toContain('switchyard_answer_quality_total{model="smart",signal="schema_valid"} 2');
    expect(text).toContain('switchyard_answer_quality_total{model="smart",signal="schema_invalid"} 1');
    expect(text).toContain('switchyard_answer_quality_total{model="claude",signal="empty"} 0');
  });

  it(`labels stay bounded: beyond ${MAX_MODELS} models, answers count as "other"`, async () => {
    const registry = new Registry();
    const quality = new QualitySignals(registry);
    for (let i = 0; i < MAX_MODELS + 50; i++) quality.observe({ model: `m${i}`, finishReasons: ['stop'], empty: false });
    const snapshot = quality.snapshot();
    expect(snapshot).toHaveLength(MAX_MODELS + 1);
    expect(snapshot.find((q) => q.model === 'other')?.answers).toBe(50);
    expect(await registry.metrics()).toContain('switchyard_answers_total{model="other"} 50');
  });
});

describe('JSON schema compliance', () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 }, tags: { type: 'array', items: { $ref: '#/$defs/tag' } } },
    required: ['name', 'age'],
    additionalProperties: false,
    $defs: { tag: { type: 'string', enum: ['a', 'b'] } },
  };

  it('valid, invalid and non-JSON answers', () => {
    expect(checkJsonSchema(schema, '{"name":"Ada","age":36,"tags":["a"]}')).toBe(true);
    expect(checkJsonSchema(schema, '{"name":"Ada","age":-1}')).toBe(false);
    expect(checkJsonSchema(schema, '{"name":"Ada","age":36,"extra":1}')).toBe(false);
    expect(checkJsonSchema(schema, '{"name":"Ada","age":36,"tags":["c"]}')).toBe(false);
    expect(checkJsonSchema(schema, 'Sure! Here is the JSON: {"name":"Ada"}')).toBe(false);
    expect(checkJsonSchema(schema, '')).toBe(false);
  });

  it('a schema naming another draft ($schema) or an $id is still checked', () => {
    const drafted = { $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'http://json-schema.org/draft-07/schema', ...schema };
    expect(checkJsonSchema(drafted, '{"name":"Ada","age":36}')).toBe(true);
    expect(checkJsonSchema(drafted, '{"name":"Ada"}')).toBe(false);
    // ajv's own meta-schema survived the $id above: later schemas still compile and check.
    expect(checkJsonSchema({ type: 'object', required: ['x'] }, '{}')).toBe(false);
  });

  it('a schema that cannot be checked gives undefined (not counted)', () => {
    expect(checkJsonSchema({ type: 'no-such-type' }, '{}')).toBeUndefined();
    expect(checkJsonSchema({ $ref: 'https://example.com/remote.json' }, '{}')).toBeUndefined();
    expect(checkJsonSchema('not a schema', '{}')).toBeUndefined();
    expect(checkJsonSchema(null, '{}')).toBeUndefined();
    expect(checkJsonSchema([], '{}')).toBeUndefined();
    expect(checkJsonSchema({ type: 'string', pattern: '^(a+)+$' }, '"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"')).toBeUndefined();
    expect(checkJsonSchema({ type: 'object', description: 'x'.repeat(70_000) }, '{}')).toBeUndefined();
  });

  it('safe patterns are checked', () => {
    const pattern = { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Z]{3}-\\d+$' } }, required: ['id'] };
    expect(checkJsonSchema(pattern, '{"id":"ABC-123"}')).toBe(true);
    expect(checkJsonSchema(pattern, '{"id":"abc"}')).toBe(false);
  });

  it('risky patterns: nested repetition, repeated alternation, backreferences', () => {
    for (const risky of ['(a+)+', '(a*)*b', '(a|aa)*', '((ab)+c)+', '(\\w+\\s?){2,}', '(a)\\1', '(?<x>a)\\k<x>', '(x+x+)+y']) expect(riskyPattern(risky), risky).toBe(true);
    for (const safe of ['^[a-z]+$', '^\\d{3}-\\d{4}$', '(ab)+', '(\\d{3})+', '^(foo|bar)$', '[(a+)+]', '\\(a+\\)+', '^[^@]+@[^@]+$']) expect(riskyPattern(safe), safe).toBe(false);
  });

  it('schemaOf reads OpenAI response_format json_schema only', () => {
    expect(schemaOf({ type: 'json_schema', json_schema: { name: 'person', schema, strict: true } })).toBe(schema);
    expect(schemaOf({ type: 'json_object' })).toBeUndefined();
    expect(schemaOf({ type: 'json_schema', json_schema: { name: 'x' } })).toBeUndefined();
    expect(schemaOf({ type: 'json_schema', json_schema: { name: 'x', schema: [] } })).toBeUndefined();
    expect(schemaOf(undefined)).toBeUndefined();
    expect(schemaOf('json_schema')).toBeUndefined();
  });
});
