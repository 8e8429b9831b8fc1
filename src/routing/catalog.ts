/**
 * The model catalogue: what the gateway knows about an upstream model (context window, prices,
 * capabilities), looked up once per target when the configuration is loaded.
 *
 * Data source: `@pydantic/genai-prices`, which bundles its price data; it is read offline (its
 * remote-update hook is never installed) and loaded on the first lookup, so a gateway with only
 * mock targets never pays its ~60 ms load. No price table is kept here. Config overrides win:
 * a target's `context_window`, `price` and `capabilities` replace what the catalogue says.
 */
import { createRequire } from 'node:module';
import type * as GenaiPrices from '@pydantic/genai-prices';
import { z } from 'zod';
import { boolean, numeric } from '../config/values.js';

/** What a model can do; `undefined` = unknown, treated as supported. */
export interface Capabilities {
  /** False for models that cannot serve a chat completion at all (embeddings, speech, images). */
  chat?: boolean;
  tools?: boolean;
  vision?: boolean;
  jsonSchema?: boolean;
  streaming?: boolean;
}

/** USD per 1M tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  cachedInput?: number;
  cacheWrite?: number;
  /** Cache writes that live an hour (Anthropic: twice the input price); undefined = as `cacheWrite`. */
  cacheWrite1h?: number;
}

/** What the gateway knows about one upstream model. */
export interface ModelInfo {
  /** Undefined = unknown (or unlimited): every prompt is assumed to fit. */
  contextWindow?: number;
  /** Undefined = unknown. */
  price?: ModelPrice;
  capabilities: Capabilities;
  /** Where the context window / price come from: config overrides, the catalogue, or nowhere. */
  source: 'catalogue' | 'config' | 'unknown';
}

const usdPerMillion = numeric(z.number().nonnegative());
const flag = boolean().optional();

/** Per-target catalogue overrides in the config; `routing-schema.ts` spreads them into a target. */
export const targetCatalogSchema = z.strictObject({
  /** Prompt + output tokens the model accepts. */
  context_window: numeric(z.number().int().positive()).optional(),
  /** USD per 1M tokens; replaces the catalogue's price as a whole. */
  price: z
    .strictObject({
      input: usdPerMillion,
      output: usdPerMillion,
      cached_input: usdPerMillion.optional(),
      cache_write: usdPerMillion.optional(),
      cache_write_1h: usdPerMillion.optional(),
    })
    .optional(),
  /** Each key set here replaces what the catalogue says (unset = unknown = supported). */
  capabilities: z
    .strictObject({ chat: flag, tools: flag, vision: flag, json_schema: flag, streaming: flag })
    .optional(),
});

export type TargetCatalogConfig = z.output<typeof targetCatalogSchema>;

/** genai-prices provider ids of the OpenAI-compatible presets it prices (self-hosted ones it cannot). */
const PRESET_PROVIDER_IDS: Readonly<Record<string, string>> = {
  together: 'together',
  groq: 'groq',
  mistral: 'mistral',
  deepseek: 'deepseek',
  fireworks: 'fireworks',
  openrouter: 'openrouter',
};

/** Switchyard provider type → genai-prices provider ids to try, in order. */
function catalogueProviders(providerType: string, preset: string | undefined): readonly string[] {
  switch (providerType) {
    case 'openai':
      return ['openai'];
    case 'azure':
      // Azure deployments run OpenAI's models: its own prices first, OpenAI's when it lacks the model.
      return ['azure', 'openai'];
    case 'anthropic':
      return ['anthropic'];
    case 'gemini':
    case 'vertex':
      return ['google'];
    case 'bedrock':
      return ['aws'];
    case 'openai-compatible': {
      const id = preset === undefined ? undefined : PRESET_PROVIDER_IDS[preset];
      return id === undefined ? [] : [id];
    }
    default:
      return [];
  }
}

/**
 * The id the catalogue knows a target's model by. Gemini and Vertex accept resource paths
 * (`models/gemini-2.5-flash`, `publishers/google/models/…`) and Bedrock inference-profile ARNs
 * (`arn:aws:bedrock:…:inference-profile/us.anthropic.claude-…`); the catalogue has the last segment.
 * Other providers' ids contain meaningful slashes (`meta-llama/Llama-3.3-70B-Instruct-Turbo`).
 */
function catalogueModelId(providerType: string, model: string): string {
  const pathLike = providerType === 'gemini' || providerType === 'vertex' || (providerType === 'bedrock' && model.startsWith('arn:'));
  return pathLike ? model.slice(model.lastIndexOf('/') + 1) : model;
}

/**
 * Models that cannot serve a chat completion, by name: embeddings, rerankers, speech, image
 * generation and moderation. Matched at the start of a name segment (`text-embedding-3-small`,
 * `gpt-4o-mini-tts`, `whisper-1`), so `mattsmodel` is not taken for a TTS model.
 */
const NOT_CHAT = /(?:^|[^a-z])(?:embed|rerank|whisper|tts|dall-e|text-moderation|omni-moderation)/i;

/** Price, context window and name of a model, as the catalogue has them now. */
interface CatalogueEntry {
  modelId: string;
  contextWindow: number | undefined;
  prices: GenaiPrices.ModelPrice;
}

const require = createRequire(import.meta.url);
let genaiPrices: typeof GenaiPrices | undefined;

/** The bundled data, loaded on first use (the CommonJS build, so lookups stay synchronous). */
function loadGenaiPrices(): typeof GenaiPrices {
  genaiPrices ??= require('@pydantic/genai-prices') as typeof GenaiPrices;
  return genaiPrices;
}

/** Loads the data now (at start-up) rather than on the first request addressing a model directly. */
export function preloadCatalogue(): void {
  loadGenaiPrices();
}

/**
 * The catalogue's entry for a model. `calcPrice` on empty usage does the library's own model
 * matching (including date-stamped ids and its provider fallbacks) and picks the conditional
 * price in effect at `now`; it throws only on malformed data, which must not stop a config load.
 */
function findEntry(providerIds: readonly string[], model: string, now: Date): CatalogueEntry | undefined {
  if (providerIds.length === 0) return undefined; // e.g. a self-hosted preset: no need to load the data
  const { calcPrice } = loadGenaiPrices();
  for (const providerId of providerIds) {
    let result: GenaiPrices.PriceCalculationResult;
    try {
      result = calcPrice({}, model, { providerId, timestamp: now });
    } catch {
      continue;
    }
    if (result) return { modelId: result.model.id, contextWindow: result.model.context_window, prices: result.model_price };
  }
  return undefined;
}

/** A rate as the base tier: tiers raise the price only past a prompt size (e.g. 200k tokens). */
function baseRate(rate: GenaiPrices.ModelPrice[string]): number | undefined {
  return typeof rate === 'number' ? rate : rate?.base;
}

function priceOf(prices: GenaiPrices.ModelPrice, chat: boolean): ModelPrice | undefined {
  const input = baseRate(prices.input_mtok);
  // Embedding models are priced for input alone: they produce no output tokens.
  const output = baseRate(prices.output_mtok) ?? (chat ? undefined : 0);
  if (input === undefined || output === undefined) return undefined;
  const price: ModelPrice = { input, output };
  const cachedInput = baseRate(prices.cache_read_mtok);
  const cacheWrite = baseRate(prices.cache_write_mtok);
  const cacheWrite1h = baseRate((prices as { cache_write_1h_mtok?: GenaiPrices.ModelPrice[string] }).cache_write_1h_mtok);
  if (cachedInput !== undefined) price.cachedInput = cachedInput;
  if (cacheWrite !== undefined) price.cacheWrite = cacheWrite;
  if (cacheWrite1h !== undefined) price.cacheWrite1h = cacheWrite1h;
  return price;
}

/** The mock provider: free, no context limit, every feature. */
function mockInfo(): ModelInfo {
  return {
    price: { input: 0, output: 0, cachedInput: 0, cacheWrite: 0 },
    capabilities: { chat: true, tools: true, vision: true, jsonSchema: true, streaming: true },
    source: 'catalogue',
  };
}

function catalogueInfo(providerType: string, preset: string | undefined, model: string, now: Date): ModelInfo {
  if (providerType === 'mock') return mockInfo();
  const modelId = catalogueModelId(providerType, model);
  const entry = findEntry(catalogueProviders(providerType, preset), modelId, now);
  const chat = !NOT_CHAT.test(modelId) && !(entry && NOT_CHAT.test(entry.modelId));
  const capabilities: Capabilities = chat ? {} : { chat: false };
  if (!entry) return { capabilities, source: 'unknown' };
  const info: ModelInfo = { capabilities, source: 'catalogue' };
  if (entry.contextWindow !== undefined) info.contextWindow = entry.contextWindow;
  const price = priceOf(entry.prices, chat);
  if (price) info.price = price;
  return info;
}

function applyOverride(info: ModelInfo, override: TargetCatalogConfig): ModelInfo {
  const result: ModelInfo = { ...info, capabilities: { ...info.capabilities } };
  if (override.context_window !== undefined) result.contextWindow = override.context_window;
  if (override.price) {
    const { input, output, cached_input: cachedInput, cache_write: cacheWrite, cache_write_1h: cacheWrite1h } = override.price;
    result.price = { input, output };
    if (cachedInput !== undefined) result.price.cachedInput = cachedInput;
    if (cacheWrite !== undefined) result.price.cacheWrite = cacheWrite;
    if (cacheWrite1h !== undefined) result.price.cacheWrite1h = cacheWrite1h;
  }
  if (override.context_window !== undefined || override.price) result.source = 'config';
  const capabilities = override.capabilities;
  if (capabilities) {
    if (capabilities.chat !== undefined) result.capabilities.chat = capabilities.chat;
    if (capabilities.tools !== undefined) result.capabilities.tools = capabilities.tools;
    if (capabilities.vision !== undefined) result.capabilities.vision = capabilities.vision;
    if (capabilities.json_schema !== undefined) result.capabilities.jsonSchema = capabilities.json_schema;
    if (capabilities.streaming !== undefined) result.capabilities.streaming = capabilities.streaming;
  }
  return result;
}

/**
 * What the gateway knows about `model` on a provider of `providerType` (a config `type`;
 * `preset` for openai-compatible ones). Config overrides win over the catalogue; `source` is
 * `config` when they set the context window or price. Conditional prices (scheduled changes,
 * off-peak hours) resolve at `now`, i.e. at config load. Unknown models get no window or price.
 */
export function lookupModel(
  providerType: string,
  preset: string | undefined,
  model: string,
  override?: TargetCatalogConfig,
  now: Date = new Date(),
): ModelInfo {
  const info = catalogueInfo(providerType, preset, model, now);
  return override ? applyOverride(info, override) : info;
}
