/**
 * Shares the semantic index between gateway instances through a Redis stream: every instance
 * appends the vectors it indexes (and deletions: one key, a namespace, everything) to one stream, trimmed to the index's
 * size, and tails it to apply what the others appended. A new instance first replays the stream,
 * so it can answer from what others stored before it started. The answers themselves are in the
 * Redis cache store under their exact keys; a vector whose answer is gone finds nothing.
 *
 * Deletions also drop the copies of a near cache (tiered-store.ts), so its staleness lasts only
 * as long as the stream takes to arrive. Redis being down only delays sharing: the tail
 * reconnects and resumes where it stopped.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { SemanticCache, SemanticPublisher, SharedVector } from './semantic.js';

/** A near cache's copies, dropped when another instance deletes the entries they copy. */
export interface NearCopies {
  forgetNear(key: string): void;
  forgetNearNamespace(namespace: string): void;
  clearNear(): void;
}

export interface SemanticSyncOptions {
  url: string;
  /** The stream's key. */
  key: string;
  /** Records kept in the stream (~, trimmed by Redis in whole nodes). */
  maxLength: number;
  onError: (err: unknown, what: string) => void;
  /** How long one XREAD blocks (ms); also how long close() may wait for the tail to notice. */
  blockMs?: number;
  /** This instance's near cache, if any: other instances' deletions drop its copies too. */
  near?: NearCopies;
}

const PAGE = 1000;

type Fields = Map<string, Buffer>;

export function startSemanticSync(semantic: SemanticCache, options: SemanticSyncOptions): SemanticPublisher {
  const sync = new SemanticSync(semantic, options);
  sync.start();
  return sync;
}

class SemanticSync implements SemanticPublisher {
  private readonly origin = randomUUID();
  private readonly writer: Redis;
  private readonly reader: Redis;
  private stopped = false;
  private tail: Promise<void> | undefined;

  constructor(
    private readonly semantic: SemanticCache,
    private readonly options: SemanticSyncOptions,
  ) {
    const redisOptions = { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1000 };
    this.writer = new Redis(options.url, { ...redisOptions, enableOfflineQueue: false, commandTimeout: 1000 });
    this.reader = new Redis(options.url, redisOptions);
    const report = (err: Error): void => this.options.onError(err, 'semantic cache sharing through Redis failed; retrying');
    this.writer.on('error', report);
    this.reader.on('error', report);
  }

  start(): void {
    this.tail = this.follow();
  }

  publishAdd(entry: SharedVector): void {
    const vector = Buffer.from(entry.vector.buffer, entry.vector.byteOffset, entry.vector.byteLength);
    this.append(['op', 'add', 'e', entry.embedder, 'k', entry.key, 'n', entry.namespace, 'p', entry.partition, 'x', String(entry.expiresAt), 'v', vector]);
  }

  publishDelete(key: string): void {
    this.append(['op', 'delete', 'k', key]);
  }

  publishForgetNamespace(namespace: string): void {
    this.append(['op', 'forget', 'n', namespace]);
  }

  publishClear(): void {
    this.append(['op', 'clear']);
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.reader.disconnect();
    await this.tail?.catch(() => undefined);
    this.writer.disconnect();
  }

  private append(fields: (string | Buffer)[]): void {
    const write = async (): Promise<void> => {
      if (this.writer.status === 'wait') await this.writer.connect();
      await this.writer.xadd(this.options.key, 'MAXLEN', '~', String(this.options.maxLength), '*', 'o', this.origin, ...fields);
    };
    write().catch((err: unknown) => this.options.onError(err, 'publishing to the shared semantic index failed'));
  }

  /** Replays the stream, then applies new records as they come, until closed. */
  private async follow(): Promise<void> {
    let lastId = '-';
    let replaying = true;
    while (!this.stopped) {
      try {
        if (this.reader.status === 'wait' || this.reader.status === 'end') await this.reader.connect();
        if (replaying) {
          const page = await this.reader.xrangeBuffer(this.options.key, lastId === '-' ? '-' : `(${lastId}`, '+', 'COUNT', PAGE);
          for (const [id, fields] of page) {
            lastId = id.toString();
            await this.apply(fieldsOf(fields), true);
          }
          if (page.length < PAGE) {
            replaying = false;
            if (lastId === '-') lastId = '0-0';
          }
          continue;
        }
        const reply = await this.reader.xreadBuffer('BLOCK', this.options.blockMs ?? 5000, 'STREAMS', this.options.key, lastId);
        for (const [, records] of reply ?? []) {
          for (const [id, fields] of records) {
            lastId = id.toString();
            await this.apply(fieldsOf(fields), false);
          }
        }
      } catch (err) {
        if (this.stopped) return;
        this.options.onError(err, 'reading the shared semantic index from Redis failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      }
    }
  }

  /** Applies another instance's record (this instance's own are applied when made, except on replay after a restart). */
  private async apply(fields: Fields, replay: boolean): Promise<void> {
    if (!replay && fields.get('o')?.toString() === this.origin) return;
    switch (fields.get('op')?.toString()) {
      case 'add': {
        const expiresAt = Number(fields.get('x')?.toString());
        const raw = fields.get('v');
        if (!raw || !(expiresAt > Date.now()) || raw.length % 4 !== 0) return;
        // Copied: the Buffer may sit at an offset that is not a multiple of 4.
        const vector = new Float32Array(raw.length / 4);
        Buffer.from(vector.buffer).set(raw);
        await this.semantic.apply({
          embedder: fields.get('e')?.toString() ?? '',
          key: fields.get('k')?.toString() ?? '',
          namespace: fields.get('n')?.toString() ?? '',
          partition: fields.get('p')?.toString() ?? '',
          vector,
          expiresAt,
        });
        return;
      }
      case 'delete': {
        const key = fields.get('k')?.toString() ?? '';
        this.semantic.forget(key);
        if (!replay) this.options.near?.forgetNear(key);
        return;
      }
      case 'forget': {
        const namespace = fields.get('n')?.toString() ?? '';
        this.semantic.forgetNamespace(namespace);
        if (!replay) this.options.near?.forgetNearNamespace(namespace);
        return;
      }
      case 'clear':
        this.semantic.clear();
        if (!replay) this.options.near?.clearNear();
        return;
    }
  }
}

function fieldsOf(flat: Buffer[]): Fields {
  const fields: Fields = new Map();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!.toString(), flat[i + 1]!);
  return fields;
}
