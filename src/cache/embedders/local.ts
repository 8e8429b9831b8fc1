/**
 * The built-in offline text embedder (`embedder: local`), so the semantic cache works with no
 * embedding provider. It is not a neural model but signed feature hashing: the text's words, word
 * pairs and character trigrams are hashed into a fixed number of dimensions and L2-normalised, so
 * the cosine similarity of two embeddings measures how many (weighted) features the texts share.
 *
 * What it catches: near-duplicates — changes of case, whitespace, punctuation and Unicode form
 * (NFKC) score 1; reordered words ~0.99; a word added ~0.96; a one-letter typo in a ten-word
 * question 0.87–1 (median 0.92: a typo breaks the trigrams around it); one word swapped for
 * another ~0.84. What it does NOT catch: paraphrases with different words ("How tall is the
 * Eiffel Tower?" vs "What is the height of the Eiffel Tower?" ~0.69), synonyms, or the same
 * question in another language (~0.05). And what it cannot tell apart: texts that share most of
 * their words score high even when the words that differ change the meaning ("capital of France"
 * vs "of Spain" ~0.67, "good" vs "bad" for your health ~0.81). Unrelated questions score near 0
 * (below 0.2). Pick the semantic threshold with that in mind (local.test.ts pins these figures),
 * or use a neural embedder for paraphrases.
 *
 * Features, after NFKC normalisation and lower-casing, with words being runs of letters, marks and
 * digits (`[\p{L}\p{M}\p{N}]+`; marks so that scripts with combining vowel signs stay whole):
 * - each word (unigram), weight {@link WEIGHTS}.word;
 * - each pair of adjacent words (bigram), weight {@link WEIGHTS}.pair: word order matters a little;
 * - each character trigram of a word framed by boundary markers (`^ab`, `abc`, ..., `yz$`), by code
 *   point, weight {@link WEIGHTS}.trigram: typos keep most of a word's trigrams, and scripts written
 *   without spaces (Chinese, Japanese) still get features from one long "word" (though a changed
 *   character there costs more: ~0.73–0.85 for one character of eight to fourteen).
 * Features of common English function words ({@link STOPWORDS}: "what", "is", "the", ...), and
 * pairs of two of them, are scaled by {@link WEIGHTS}.stopword, a cheap stand-in for inverse
 * document frequency: without it "What is the capital of France?" and "What is the boiling point
 * of water?" scored 0.45, with it 0.15. Other languages get no such list.
 * A feature's count becomes 1 + ln(count) (sublinear, so a repeated word does not dominate), times
 * its weight. Each feature is hashed (FNV-1a, then murmur3's finaliser for good low bits) to a
 * dimension and a sign (signed hashing keeps colliding features from always adding up).
 *
 * Deterministic: the same text gives the same vector in every process and on every platform. Any
 * change to the features, weights or hashing changes the vectors, so embeddings stored before it
 * must not be compared with new ones.
 */

/**
 * Feature weights per kind, tuned on the pairs in local.test.ts and a few hundred seeded typos:
 * trigrams carry most of the weight, so a typo costs little and word order almost nothing.
 */
export const WEIGHTS = Object.freeze({ word: 0.4, pair: 0.2, trigram: 1, stopword: 0.5 });

/** Common English function words: their features are scaled by {@link WEIGHTS}.stopword. */
const STOPWORDS: ReadonlySet<string> = new Set([
  'a', 'an', 'the', 'is', 'are', 'was', 'were', 'be', 'been', 'am', 'do', 'does', 'did', 'i', 'me', 'my', 'you', 'your', 'we', 'our',
  'it', 'its', 'he', 'she', 'they', 'them', 'their', 'this', 'that', 'these', 'those', 'what', 'which', 'who', 'how', 'why', 'when',
  'where', 'of', 'in', 'on', 'at', 'to', 'for', 'from', 'by', 'with', 'about', 'and', 'or', 'but', 'if', 'so', 'as', 'can', 'could',
  'would', 'should', 'will', 'please', 'there', 'some', 'any', 'into', 'than', 'then', 'not', 'no', 'have', 'has', 'had',
]);

/**
 * English negations ("n't" is a "t" after a word ending in "n": the apostrophe splits words). A
 * text with an odd number of them gets the {@link POLARITY} feature.
 */
const NEGATIONS: ReadonlySet<string> = new Set([
  'not', 'no', 'never', 'nothing', 'nobody', 'none', 'neither', 'nor', 'nowhere', 'cannot', 'without',
  'dont', 'doesnt', 'didnt', 'isnt', 'arent', 'wasnt', 'werent', 'cant', 'couldnt', 'wouldnt', 'shouldnt', 'wont', 'havent', 'hasnt', 'hadnt',
]);

/**
 * The negated-text feature's share of the vector: its weight is this times the norm of the
 * other features, so adding or dropping a "not" costs the same at any text length. Without it a
 * negation was one more stopword ("Should I take ibuprofen with alcohol?" vs "Should I not take
 * ...": 0.98, a hit at any threshold); with 0.6 such pairs score 0.72–0.84.
 */
const POLARITY = 0.6;
/** The negated-text feature's hash: a fixed dimension and sign. */
const POLARITY_KEY = 0x6e6f7421;

const DEFAULT_DIMENSIONS = 384;

/** Options of {@link LocalEmbedder}. */
export interface LocalEmbedderOptions {
  /** Vector length (default 384). More dimensions, fewer hash collisions between features. */
  dimensions?: number;
}

const KIND_WORD = 0;
const KIND_PAIR = 1;
const KIND_TRIGRAM = 2;
const KIND_STOP_WORD = 3;
const KIND_STOP_PAIR = 4;
const KIND_STOP_TRIGRAM = 5;
const KIND_WEIGHTS = [WEIGHTS.word, WEIGHTS.pair, WEIGHTS.trigram, WEIGHTS.word * WEIGHTS.stopword, WEIGHTS.pair * WEIGHTS.stopword, WEIGHTS.trigram * WEIGHTS.stopword];

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Code points standing for a word's start and end in trigrams: control characters, never in a word. */
const WORD_START = 0x02;
const WORD_END = 0x03;
/** Per-kind salts, so a word and a trigram spelled alike are different features. */
const SALT_WORD = 0x9e3779b9;
const SALT_PAIR = 0x85ebca6b;
const SALT_TRIGRAM = 0xc2b2ae35;

const WORD = /[\p{L}\p{M}\p{N}]+/gu;

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Counts features by their 32-bit hash in an open-addressing table reused across calls, so an
 * embedding allocates nothing but its result. Two features whose hashes are equal are counted as
 * one: at 32 bits that is vanishingly rare, and it only adds weight to one dimension.
 */
class FeatureCounts {
  private keys = new Uint32Array(1024);
  private counts = new Uint32Array(1024);
  private kinds = new Uint8Array(1024);
  /** Slots whose generation is the current one hold a feature of the text being embedded. */
  private generations = new Uint32Array(1024);
  private generation = 0;
  /** The used slots, in the order first used: iterated to build the vector. */
  private used = new Int32Array(512);
  size = 0;

  reset(): void {
    this.size = 0;
    this.generation = (this.generation + 1) >>> 0;
    if (this.generation === 0) {
      this.generations.fill(0);
      this.generation = 1;
    }
  }

  add(key: number, kind: number): void {
    if (this.size * 2 >= this.keys.length) this.grow();
    const mask = this.keys.length - 1;
    let slot = key & mask;
    while (this.generations[slot] === this.generation) {
      if (this.keys[slot] === key) {
        this.counts[slot]!++;
        return;
      }
      slot = (slot + 1) & mask;
    }
    this.generations[slot] = this.generation;
    this.keys[slot] = key;
    this.counts[slot] = 1;
    this.kinds[slot] = kind;
    this.used[this.size++] = slot;
  }

  key(i: number): number {
    return this.keys[this.used[i]!]!;
  }

  count(i: number): number {
    return this.counts[this.used[i]!]!;
  }

  kind(i: number): number {
    return this.kinds[this.used[i]!]!;
  }

  /** Doubles the table and re-inserts the current features. */
  private grow(): void {
    const { keys, counts, kinds, used, size } = this;
    const capacity = keys.length * 2;
    this.keys = new Uint32Array(capacity);
    this.counts = new Uint32Array(capacity);
    this.kinds = new Uint8Array(capacity);
    this.generations = new Uint32Array(capacity);
    this.used = new Int32Array(capacity / 2);
    this.generation = 1;
    this.size = 0;
    const mask = capacity - 1;
    for (let i = 0; i < size; i++) {
      const from = used[i]!;
      const key = keys[from]!;
      let slot = key & mask;
      while (this.generations[slot] === 1) slot = (slot + 1) & mask;
      this.generations[slot] = 1;
      this.keys[slot] = key;
      this.counts[slot] = counts[from]!;
      this.kinds[slot] = kinds[from]!;
      this.used[this.size++] = slot;
    }
  }
}

/**
 * Feature-hashing text embedder: unit-length vectors (all zeros for a text without letters or
 * digits) whose cosine similarity is high for near-duplicate texts. See the file comment for what
 * it does and does not match. Not safe to call re-entrantly (it reuses its buffers), which plain
 * synchronous calls never do.
 */
export class LocalEmbedder {
  /**
   * Names the vectors' version (shared entries carry it): vectors of another version are never
   * compared with these. v2 added the negation feature.
   */
  readonly id = 'local/v2';
  readonly dimensions: number;
  private readonly features = new FeatureCounts();
  private readonly sums: Float64Array;
  /** A word's code points framed by the boundary markers; grows for long words. */
  private codePoints = new Uint32Array(64);

  constructor(options: LocalEmbedderOptions = {}) {
    const dimensions = options.dimensions ?? DEFAULT_DIMENSIONS;
    if (!Number.isInteger(dimensions) || dimensions < 1) throw new RangeError(`dimensions must be a positive integer, got ${dimensions}`);
    this.dimensions = dimensions;
    this.sums = new Float64Array(dimensions);
  }

  /** The text's embedding: a new unit-length vector, or all zeros when the text has no word. */
  embed(text: string): Float32Array {
    const features = this.features;
    features.reset();
    const normalised = text.normalize('NFKC').toLowerCase();
    let previous = 0;
    let previousStop = false;
    let previousWord = '';
    let negations = 0;
    WORD.lastIndex = 0;
    for (let match = WORD.exec(normalised); match !== null; match = WORD.exec(normalised)) {
      const word = match[0];
      const stop = STOPWORDS.has(word);
      const wordHash = this.addWord(word, stop);
      if (previousWord !== '') features.add(fmix32((Math.imul(previous, 31) + wordHash) ^ SALT_PAIR), stop && previousStop ? KIND_STOP_PAIR : KIND_PAIR);
      if (NEGATIONS.has(word) || (word === 't' && previousWord.endsWith('n'))) negations++;
      previous = wordHash;
      previousStop = stop;
      previousWord = word;
    }
    return this.vector(negations % 2 === 1);
  }

  /** Adds a word's unigram and trigram features; returns the word's hash (for its bigrams). */
  private addWord(word: string, stop: boolean): number {
    let points = this.codePoints;
    if (points.length < word.length + 2) points = this.codePoints = new Uint32Array(word.length * 2 + 2);
    let length = 0;
    let hash = FNV_OFFSET;
    points[length++] = WORD_START;
    for (let i = 0; i < word.length; i++) {
      let point = word.charCodeAt(i);
      if (point >= 0xd800 && point <= 0xdbff && i + 1 < word.length) {
        const low = word.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          point = ((point - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
          i++;
        }
      }
      hash = Math.imul(hash ^ point, FNV_PRIME);
      points[length++] = point;
    }
    points[length++] = WORD_END;
    const features = this.features;
    features.add(fmix32(hash ^ SALT_WORD), stop ? KIND_STOP_WORD : KIND_WORD);
    for (let i = 0; i + 2 < length; i++) {
      let trigram = Math.imul(FNV_OFFSET ^ points[i]!, FNV_PRIME);
      trigram = Math.imul(trigram ^ points[i + 1]!, FNV_PRIME);
      trigram = Math.imul(trigram ^ points[i + 2]!, FNV_PRIME);
      features.add(fmix32(trigram ^ SALT_TRIGRAM), stop ? KIND_STOP_TRIGRAM : KIND_TRIGRAM);
    }
    return hash >>> 0;
  }

  private vector(negated: boolean): Float32Array {
    const { features, sums, dimensions } = this;
    const result = new Float32Array(dimensions);
    if (features.size === 0) return result;
    sums.fill(0);
    for (let i = 0; i < features.size; i++) {
      const key = features.key(i);
      const count = features.count(i);
      const weight = KIND_WEIGHTS[features.kind(i)]! * (count === 1 ? 1 : 1 + Math.log(count));
      const dimension = (key >>> 1) % dimensions;
      sums[dimension] = sums[dimension]! + (key & 1 ? -weight : weight);
    }
    let norm = 0;
    for (let d = 0; d < dimensions; d++) norm += sums[d]! * sums[d]!;
    if (negated && norm > 0) {
      const dimension = (POLARITY_KEY >>> 1) % dimensions;
      const before = sums[dimension]!;
      sums[dimension] = before + POLARITY * Math.sqrt(norm);
      norm += sums[dimension]! * sums[dimension]! - before * before;
    }
    // A sum can cancel to exactly zero only by a freak of signs; then there is no direction to give.
    if (norm === 0) return result;
    const scale = 1 / Math.sqrt(norm);
    for (let d = 0; d < dimensions; d++) result[d] = sums[d]! * scale;
    return result;
  }
}
