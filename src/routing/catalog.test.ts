import { findProvider, type ModelInfo as GenaiModel, type ModelPrice as GenaiPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { lookupModel, targetCatalogSchema, type ModelInfo } from './catalog.js';

/** The package's own entry for a model id, to compare lookups with its data rather than magic figures. */
function dataModel(providerId: string, modelId: string): GenaiModel {
  const model = findProvider({ providerId })?.models.find((m) => m.id === modelId);
  if (!model) throw new Error(`${providerId}/${modelId} is not in the genai-prices data`);
  return model;
}

function basePrices(model: GenaiModel): GenaiPrice {
  if (Array.isArray(model.prices)) throw new Error(`${model.id} has conditional prices`);
  return model.prices;
}

function baseOf(rate: GenaiPrice[string]): number | undefined {
  return typeof rate === 'number' ? rate : rate?.base;
}

function expectTypicalChatModel(info: ModelInfo): void {
  expect(info.source).toBe('catalogue');
  expect(info.price?.input).toBeGreaterThan(0);
  expect(info.price!.output).toBeGreaterThan(info.price!.input);
  expect(info.capabilities.chat).not.toBe(false);
}

describe('lookupModel: catalogue data', () => {
  it.each([
    ['openai', undefined, 'gpt-4o', 'openai', 'gpt-4o'],
    ['openai', undefined, 'gpt-4o-2024-08-06', 'openai', 'gpt-4o'],
    ['openai', undefined, 'gpt-4.1-mini', 'openai', 'gpt-4.1-mini'],
    ['anthropic', undefined, 'claude-haiku-4-5', 'anthropic', 'claude-haiku-4-5'],
    ['anthropic', undefined, 'claude-opus-4-1', 'anthropic', 'claude-opus-4-1'],
    ['gemini', undefined, 'gemini-2.5-flash', 'google', 'gemini-2.5-flash'],
    ['gemini', undefined, 'models/gemini-2.0-flash', 'google', 'gemini-2.0-flash'],
    ['vertex', undefined, 'publishers/google/models/gemini-2.5-flash', 'google', 'gemini-2.5-flash'],
    ['bedrock', undefined, 'amazon.nova-pro-v1:0', 'aws', 'amazon.nova-pro-v1:0'],
    ['bedrock', undefined, 'us.anthropic.claude-sonnet-4-20250514-v1:0', 'aws', 'regional.anthropic.claude-sonnet-4-20250514-v1:0'],
    ['bedrock', undefined, 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0', 'aws', 'regional.anthropic.claude-sonnet-4-20250514-v1:0'],
    ['openai-compatible', 'openrouter', 'openai/gpt-4o', 'openrouter', 'openai/gpt-4o'],
  ] as const)('%s %s %s: context window and price from the data', (type, preset, model, dataProvider, dataId) => {
    const info = lookupModel(type, preset, model);
    const data = dataModel(dataProvider, dataId);
    const prices = basePrices(data);
    expectTypicalChatModel(info);
    expect(info.contextWindow).toBeGreaterThan(0);
    expect(info.contextWindow).toBe(data.context_window);
    expect(info.price!.input).toBe(baseOf(prices.input_mtok));
    expect(info.price!.output).toBe(baseOf(prices.output_mtok));
    expect(info.price!.cachedInput).toBe(baseOf(prices.cache_read_mtok));
    expect(info.price!.cacheWrite).toBe(baseOf(prices.cache_write_mtok));
    expect(info.price!.cacheWrite1h).toBe(baseOf((prices as { cache_write_1h_mtok?: typeof prices.cache_write_mtok }).cache_write_1h_mtok));
  });

  it("prices Anthropic's one-hour cache writes (twice the input price)", () => {
    const info = lookupModel('anthropic', undefined, 'claude-sonnet-4-5');
    expect(info.price).toMatchObject({ input: 3, cacheWrite: 3.75, cacheWrite1h: 6 });
  });

  it.each([
    ['together', 'meta-llama/Llama-3.3-70B-Instruct-Turbo'],
    ['groq', 'llama-3.3-70b-versatile'],
    ['mistral', 'mistral-large-latest'],
    ['fireworks', 'accounts/fireworks/models/deepseek-v3p2'],
    ['deepseek', 'deepseek-chat'],
  ])('openai-compatible preset %s prices %s', (preset, model) => {
    const info = lookupModel('openai-compatible', preset, model);
    expect(info.source).toBe('catalogue');
    expect(info.price?.input).toBeGreaterThan(0);
    expect(info.price!.output).toBeGreaterThanOrEqual(info.price!.input);
  });

  it('maps every priced preset to a provider id the data has', () => {
    for (const preset of ['together', 'groq', 'mistral', 'deepseek', 'fireworks', 'openrouter']) {
      expect(findProvider({ providerId: preset })?.id).toBe(preset);
    }
  });

  it('knows nothing about self-hosted presets, whatever the model is called', () => {
    for (const preset of ['vllm', 'ollama', 'lmstudio', 'llamacpp', undefined]) {
      expect(lookupModel('openai-compatible', preset, 'gpt-4o')).toEqual({ capabilities: {}, source: 'unknown' });
    }
  });

  it('takes the base tier of tiered prices', () => {
    const prices = basePrices(dataModel('anthropic', 'claude-sonnet-4-5'));
    const input = prices.input_mtok;
    expect(typeof input).toBe('object'); // the data prices long prompts higher
    const info = lookupModel('anthropic', undefined, 'claude-sonnet-4-5-20250929');
    expectTypicalChatModel(info);
    expect(info.price!.input).toBe(baseOf(input));
    expect(info.price!.input).toBeLessThan(Math.max(...(input as { tiers: { price: number }[] }).tiers.map((t) => t.price)));
  });

  it('takes the conditional price in effect at lookup time', () => {
    const data = dataModel('openai', 'o3');
    if (!Array.isArray(data.prices)) throw new Error('o3 is expected to have a dated price change');
    const [before, after] = data.prices;
    const change = after!.constraint;
    if (change?.type !== 'start_date') throw new Error('expected a start_date constraint');
    const changeDay = new Date(`${change.start_date}T00:00:00Z`);
    const dayBefore = new Date(changeDay.getTime() - 86_400_000);

    expect(lookupModel('openai', undefined, 'o3', undefined, dayBefore).price?.input).toBe(baseOf(before!.prices.input_mtok));
    expect(lookupModel('openai', undefined, 'o3', undefined, changeDay).price?.input).toBe(baseOf(after!.prices.input_mtok));
    expect(baseOf(before!.prices.input_mtok)).not.toBe(baseOf(after!.prices.input_mtok));
  });

  it("falls back to OpenAI's prices for a model Azure's data lacks", () => {
    expect(findProvider({ providerId: 'azure' })?.models.some((m) => m.id === 'gpt-4.1')).toBe(false);
    const azure = lookupModel('azure', undefined, 'gpt-4.1');
    expect(azure).toEqual(lookupModel('openai', undefined, 'gpt-4.1'));
    expectTypicalChatModel(azure);
  });

  it('prices Azure from its own data when it has the model', () => {
    const data = basePrices(dataModel('azure', 'o3-mini'));
    expect(lookupModel('azure', undefined, 'o3-mini').price?.input).toBe(baseOf(data.input_mtok));
  });

  it('returns no window or price for an unknown model or provider type', () => {
    expect(lookupModel('openai', undefined, 'no-such-model-xyz')).toEqual({ capabilities: {}, source: 'unknown' });
    expect(lookupModel('anthropic', undefined, 'claude-99-imaginary')).toEqual({ capabilities: {}, source: 'unknown' });
    expect(lookupModel('carrier-pigeon', undefined, 'gpt-4o')).toEqual({ capabilities: {}, source: 'unknown' });
  });

  it('treats mock as free, unlimited and capable of everything', () => {
    expect(lookupModel('mock', undefined, 'anything')).toEqual({
      price: { input: 0, output: 0, cachedInput: 0, cacheWrite: 0 },
      capabilities: { chat: true, tools: true, vision: true, jsonSchema: true, streaming: true },
      source: 'catalogue',
    });
  });
});

describe('lookupModel: capabilities', () => {
  it('marks embedding models as unable to chat and prices their (absent) output at 0', () => {
    const info = lookupModel('openai', undefined, 'text-embedding-3-small');
    const data = basePrices(dataModel('openai', 'text-embedding-3-small'));
    expect(info.capabilities).toEqual({ chat: false });
    expect(info.price).toEqual({ input: data.input_mtok, output: 0 });
    expect(lookupModel('bedrock', undefined, 'amazon.titan-embed-text-v2:0').capabilities.chat).toBe(false);
  });

  it('recognises non-chat models by name even when the catalogue does not know them', () => {
    for (const model of ['nomic-embed-text', 'whisper-large-v3', 'gpt-4o-mini-tts', 'bge-reranker-v2']) {
      expect(lookupModel('openai-compatible', 'ollama', model).capabilities.chat).toBe(false);
    }
    for (const model of ['llama3.1', 'mattsmodel', 'qwen2.5-coder']) {
      expect(lookupModel('openai-compatible', 'ollama', model).capabilities).toEqual({});
    }
  });

  it('leaves capabilities of chat models unknown', () => {
    expect(lookupModel('anthropic', undefined, 'claude-haiku-4-5').capabilities).toEqual({});
  });
});

describe('lookupModel: config overrides', () => {
  const override = targetCatalogSchema.parse({
    context_window: 32_000,
    price: { input: 0.5, output: 1.5, cached_input: 0.05 },
    capabilities: { vision: false, json_schema: true },
  });

  it('win over the catalogue and mark the source as config', () => {
    expect(lookupModel('openai', undefined, 'gpt-4o', override)).toEqual({
      contextWindow: 32_000,
      price: { input: 0.5, output: 1.5, cachedInput: 0.05 },
      capabilities: { vision: false, jsonSchema: true },
      source: 'config',
    });
  });

  it('describe a model the catalogue does not know', () => {
    expect(lookupModel('openai-compatible', 'vllm', 'my-finetune', override)).toMatchObject({ contextWindow: 32_000, source: 'config' });
  });

  it('merge capabilities key by key and keep the catalogue figures they do not set', () => {
    const catalogue = lookupModel('openai', undefined, 'gpt-4o');
    const info = lookupModel('openai', undefined, 'gpt-4o', targetCatalogSchema.parse({ capabilities: { tools: false } }));
    expect(info).toEqual({ ...catalogue, capabilities: { tools: false } });
    expect(lookupModel('openai', undefined, 'text-embedding-3-small', targetCatalogSchema.parse({ capabilities: { chat: true } })).capabilities.chat).toBe(true);
  });

  it('give a mock target a context window (to exercise context-window fallbacks)', () => {
    const info = lookupModel('mock', undefined, 'mock', targetCatalogSchema.parse({ context_window: 100 }));
    expect(info.contextWindow).toBe(100);
    expect(info.price?.input).toBe(0);
    expect(info.capabilities.tools).toBe(true);
  });

  it('do not touch the catalogue result they override', () => {
    const first = lookupModel('mock', undefined, 'mock', override);
    expect(first.capabilities.vision).toBe(false);
    expect(lookupModel('mock', undefined, 'mock').capabilities.vision).toBe(true);
  });
});

describe('targetCatalogSchema', () => {
  it('accepts values interpolated from env vars as strings', () => {
    expect(targetCatalogSchema.parse({ context_window: '128000', price: { input: '2.5', output: '10' }, capabilities: { tools: 'false' } })).toEqual({
      context_window: 128_000,
      price: { input: 2.5, output: 10 },
      capabilities: { tools: false },
    });
  });

  it('rejects unknown keys, a price without input and output, and a non-positive window', () => {
    expect(targetCatalogSchema.safeParse({ context_windows: 1000 }).success).toBe(false);
    expect(targetCatalogSchema.safeParse({ price: { input: 1 } }).success).toBe(false);
    expect(targetCatalogSchema.safeParse({ price: { input: -1, output: 1 } }).success).toBe(false);
    expect(targetCatalogSchema.safeParse({ context_window: 0 }).success).toBe(false);
    expect(targetCatalogSchema.safeParse({ capabilities: { audio: true } }).success).toBe(false);
  });
});
