/**
 * The semantic cache: answers a request from a stored answer to a similar one. A request is split
 * into a hard partition — tenant namespace, model group, system prompt, tools, every other
 * parameter and the conversation before its last `max_messages` messages, hashed like an exact
 * key — and the text of those last messages (role-tagged), which is embedded. A lookup searches
 * only the request's partition, for the nearest stored request at or above the group's threshold.
 *
 * Vectors live in an in-process index per embedder (their dimensions differ); the answers live in
 * the cache store under their exact keys, so a vector whose answer expired or was deleted finds
 * nothing and is dropped. With Redis, vectors are also published to every instance (semantic-sync.ts).
 */
import { hash } from 'node:crypto';
import type { GroupSemanticConfig } from '../config/cache-schema.js';
import { messageText } from '../gateway/message-text.js';
import type { ChatMessage, ChatRequest } from '../gateway/types.js';
import type { Embedder } from './embedders/embedder.js';
import { chatCacheKey } from './key.js';
import { VectorIndex } from './vector-index.js';

export interface SemanticQuery {
  readonly namespace: string;
  readonly partition: string;
  /** The role-tagged text of the last messages. */
  readonly text: string;
  readonly threshold: number;
  readonly embedder: Embedder;
  /** Filled by the lookup, so storing the answer does not embed again. */
  vector?: Float32Array;
}

/** A vector as published between instances. */
export interface SharedVector {
  embedder: string;
  key: string;
  namespace: string;
  partition: string;
  vector: Float32Array;
  expiresAt: number;
}

/** Publishes this instance's vectors and deletions to the others (Redis); absent with a memory store. */
export interface SemanticPublisher {
  publishAdd(entry: SharedVector): void;
  publishDelete(key: string): void;
  publishForgetNamespace(namespace: string): void;
  publishClear(): void;
  close(): Promise<void>;
}

export interface SemanticCacheOptions {
  /** The embedder by name (`local`, a model group, `<provider>/<model>`). */
  embedder(name: string): Embedder;
  defaultEmbedder: string;
  /** Bound of each embedder's index. */
  maxEntries: number;
  onError: (err: unknown, what: string) => void;
  /** Injected by tests (a failing loader exercises the exact-search fallback). */
  createIndex?: (dimensions: number) => Promise<VectorIndex>;
}

/** Content parts whose meaning the text does not carry: requests with them are not matched by similarity. */
function hasNonTextContent(message: ChatMessage): boolean {
  return Array.isArray(message.content) && message.content.some((part) => part.type !== 'text');
}

function isInstruction(message: ChatMessage): boolean {
  return message.role === 'system' || message.role === 'developer';
}

export class SemanticCache {
  private readonly indexes = new Map<string, Promise<VectorIndex>>();
  private readonly options: SemanticCacheOptions;
  private sweeper: NodeJS.Timeout | undefined;
  publisher: SemanticPublisher | undefined;

  constructor(options: SemanticCacheOptions) {
    this.options = options;
  }

  /** The query for a request, or undefined when it has no text to compare (or content text cannot stand for). */
  query(request: ChatRequest, namespace: string, group: string, settings: GroupSemanticConfig): SemanticQuery | undefined {
    const messages = request.messages;
    const compared: ChatMessage[] = [];
    const kept: ChatMessage[] = [];
    let window = 0;
    for (let i = messages.length - 1; i >= 0; i--) {
      const message = messages[i]!;
      // Tool calls and their results are data the answer is made of: matched exactly, never by
      // meaning (and not counted in max_messages, so the question before them is still compared).
      if (isInstruction(message) || isToolTurn(message) || window >= settings.max_messages) {
        kept.push(message);
        continue;
      }
      window++;
      if (hasNonTextContent(message)) return undefined;
      compared.push(message);
      // Where the compared turn was, among the exact ones: [question, call, result, question] is
      // another conversation than [call, result, question, question].
      kept.push({ role: message.role, content: COMPARED });
    }
    if (compared.length === 0) return undefined;
    compared.reverse();
    kept.reverse();
    const text = compared.map(taggedText).join('\n');
    if (text.trim() === '') return undefined;
    // Embeddings barely tell "5 ml" from "15 ml", or order 48213 from 48219: the numbers of the
    // compared text must be the same (in any order) for two requests to match.
    const numbers = numbersOf(text);
    const partition = chatCacheKey({ ...request, messages: kept }, { namespace, group, kind: 'chat' }) + (numbers === '' ? '' : `#${hash('sha256', numbers, 'base64url')}`);
    return { namespace, partition, text, threshold: settings.threshold, embedder: this.options.embedder(settings.embedder ?? this.options.defaultEmbedder) };
  }

  /** The nearest stored request of the query's partition at or above its threshold. */
  async search(query: SemanticQuery): Promise<{ key: string; similarity: number } | undefined> {
    query.vector ??= await query.embedder.embed(query.text);
    const index = await this.index(query.embedder.id, query.vector.length);
    const match = index.search(query.partition, query.vector, query.threshold);
    return match ? { key: match.id, similarity: match.similarity } : undefined;
  }

  /** Indexes a stored answer (its exact key) under the query's vector, embedding it if the lookup did not. */
  add(query: SemanticQuery, key: string, expiresAt: number): void {
    const embedded = query.vector ? Promise.resolve(query.vector) : query.embedder.embed(query.text);
    embedded
      .then(async (vector) => {
        query.vector = vector;
        const entry: SharedVector = { embedder: query.embedder.id, key, namespace: query.namespace, partition: query.partition, vector, expiresAt };
        await this.apply(entry);
        this.publisher?.publishAdd(entry);
      })
      .catch((err: unknown) => this.options.onError(err, 'indexing an answer for the semantic cache failed'));
  }

  /** Adds a vector (this instance's, or one another instance published). */
  async apply(entry: SharedVector): Promise<void> {
    const index = await this.index(entry.embedder, entry.vector.length);
    index.add({ id: entry.key, namespace: entry.namespace, partition: entry.partition, vector: entry.vector, expiresAt: entry.expiresAt });
  }

  /**
   * Drops a vector whose answer is gone (expired, evicted or deleted). `publish` (here and below):
   * a deletion made through this instance, which the other instances apply too.
   */
  forget(key: string, publish = false): void {
    void this.each((index) => index.remove(key));
    if (publish) this.publisher?.publishDelete(key);
  }

  forgetNamespace(namespace: string, publish = false): void {
    void this.each((index) => index.removeNamespace(namespace));
    if (publish) this.publisher?.publishForgetNamespace(namespace);
  }

  clear(publish = false): void {
    void this.each((index) => index.clear());
    if (publish) this.publisher?.publishClear();
  }

  /** Entries and estimated bytes over every embedder's index. */
  async stats(): Promise<{ entries: number; bytes: number }> {
    let entries = 0;
    let bytes = 0;
    await this.each((index) => {
      const stats = index.stats();
      entries += stats.entries;
      bytes += stats.bytes;
    });
    return { entries, bytes };
  }

  /** Removes expired vectors (their answers are gone from the store too). */
  sweep(now = Date.now()): Promise<void> {
    return this.each((index) => index.sweep(now));
  }

  /** Sweeps expired vectors every `intervalMs` until closed. */
  sweepEvery(intervalMs: number): void {
    this.sweeper = setInterval(() => void this.sweep(), intervalMs);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.publisher?.close();
  }

  private async each(action: (index: VectorIndex) => void): Promise<void> {
    for (const pending of this.indexes.values()) {
      try {
        action(await pending);
      } catch (err) {
        this.options.onError(err, 'semantic index operation failed');
      }
    }
  }

  private index(embedder: string, dimensions: number): Promise<VectorIndex> {
    const name = `${embedder}#${dimensions}`;
    let index = this.indexes.get(name);
    if (!index) {
      const create = this.options.createIndex ?? ((dims: number) => VectorIndex.create({ dimensions: dims, maxEntries: this.options.maxEntries, onFallback: (err) => this.options.onError(err, 'the HNSW index is unavailable (the usearch library failed to load or to run); semantic search is exact (slower on large caches)') }));
      index = create(dimensions);
      this.indexes.set(name, index);
    }
    return index;
  }
}

/** A tool's result, or an assistant turn that calls tools (or the legacy function). */
function isToolTurn(message: ChatMessage): boolean {
  return message.role === 'tool' || message.role === 'function' || (Array.isArray(message.tool_calls) && message.tool_calls.length > 0) || message.function_call != null;
}

/** The stand-in for a compared turn among the exact ones: it marks a position, its text is compared by meaning. */
const COMPARED = '\u0000compared';

/** `role: text`. */
function taggedText(message: ChatMessage): string {
  return `${message.role}: ${messageText(message)}`;
}

/**
 * The numbers in a text with their sign and decimals, in any script's digits, sorted: "-5 °C",
 * "0.5 mg" and "5.0 mg" are three numbers; "book a table for 2 at 19:30" → "19,2,30".
 */
function numbersOf(text: string): string {
  const numbers = text.match(/[-+\u2212]?\p{Nd}+(?:[.,]\p{Nd}+)*/gu);
  return numbers ? numbers.sort().join(' ') : '';
}
