/**
 * The spend writer's files on disk: the spill file rows are appended to while the database is
 * unavailable, `<spill>.ingesting` (the spill file renamed while it is written back, so new rows
 * go to a fresh file and nothing is truncated under a writer) and `<spill>.ingesting.offset` (how
 * far the write-back got, replaced atomically after each batch the database accepted).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SpendRow } from '../governance/types.js';
import { ensureDir } from './ensure-dir.js';

/** Rows read back from the spill file, and where the next read starts. */
export interface SpillBatch {
  /** A hash of the batch's lines: the same batch read again after a crash has the same id. */
  id: string;
  rows: SpendRow[];
  end: number;
  /** Non-blank lines consumed, corrupt ones included. */
  lines: number;
}

const READ_CHUNK = 64 * 1024;

/** The spill file's JSON lines for `rows`; a row that cannot be serialized is left out and reported. */
export function spillLines(rows: readonly SpendRow[], onUnserializable: (err: unknown) => void): { text: string; count: number } {
  let text = '';
  let count = 0;
  for (const row of rows) {
    try {
      text += `${JSON.stringify(row)}\n`;
      count++;
    } catch (err) {
      onUnserializable(err);
    }
  }
  return { text, count };
}

export class SpillFiles {
  readonly spillPath: string;
  readonly ingestingPath: string;
  readonly offsetPath: string;
  #dirReady = false;

  constructor(
    spillPath: string,
    /** Corrupt lines and unreadable offsets (reported, then skipped). */
    private readonly report: (err: Error) => void,
  ) {
    this.spillPath = spillPath;
    this.ingestingPath = `${spillPath}.ingesting`;
    this.offsetPath = `${spillPath}.ingesting.offset`;
  }

  /** Whether an earlier process left rows on disk (checked once, at construction: sync is fine there). */
  leftBehind(): boolean {
    return existsSync(this.spillPath) || existsSync(this.ingestingPath);
  }

  spilled(): Promise<boolean> {
    return exists(this.spillPath);
  }

  ingesting(): Promise<boolean> {
    return exists(this.ingestingPath);
  }

  async append(text: string): Promise<void> {
    if (!this.#dirReady) ensureDir(dirname(this.spillPath)); // once: a few synchronous calls
    this.#dirReady = true;
    await appendFile(this.spillPath, text);
  }

  /** The spill file becomes the one being written back (an offset file without it belongs to a finished run). */
  async startIngesting(): Promise<void> {
    await rm(this.offsetPath, { force: true });
    await rename(this.spillPath, this.ingestingPath);
  }

  /** The write-back is over. The data goes before its offset: the other order could re-ingest the whole file after a crash. */
  async finishIngesting(): Promise<void> {
    await rm(this.ingestingPath, { force: true });
    await rm(this.offsetPath, { force: true });
  }

  /** Up to `batchSize` rows of the file being written back, from byte `offset`; corrupt lines are reported and skipped. */
  async readBatch(offset: number, batchSize: number): Promise<SpillBatch> {
    const rows: SpendRow[] = [];
    const hash = createHash('sha256');
    let lines = 0;
    const end = await scanLines(this.ingestingPath, offset, (line, at) => {
      if (line.trim() === '') return true;
      lines++;
      hash.update(line).update('\n');
      const row = parseRow(line);
      if (row) rows.push(row);
      else this.report(new Error(`${this.ingestingPath}: skipped a corrupt spend row at byte ${at}`));
      return rows.length < batchSize;
    });
    return { id: `spill-${hash.digest('base64url')}`, rows, end, lines };
  }

  async savedOffset(): Promise<number> {
    let text: string;
    try {
      text = await readFile(this.offsetPath, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw err;
    }
    const offset = Number(text.trim());
    if (Number.isSafeInteger(offset) && offset >= 0) return offset;
    this.report(new Error(`${this.offsetPath}: unreadable offset, re-reading ${this.ingestingPath} from the start`));
    return 0;
  }

  /** Replaced by rename, so a crash leaves the old offset or the new one, never half of one. */
  async saveOffset(offset: number): Promise<void> {
    const tmp = `${this.offsetPath}.tmp`;
    await writeFile(tmp, String(offset));
    await rename(tmp, this.offsetPath);
  }

  /** The rows waiting on disk (at start-up, for stats). */
  async countRows(): Promise<number> {
    let lines = 0;
    const count = (line: string): boolean => {
      if (line.trim() !== '') lines++;
      return true;
    };
    if (await this.ingesting()) await scanLines(this.ingestingPath, await this.savedOffset(), count);
    if (await this.spilled()) await scanLines(this.spillPath, 0, count);
    return lines;
  }
}

/**
 * Calls onLine for each line from byte `from` until it returns false or the file ends, and
 * returns the offset after the last line consumed. A last line without its newline (a write cut
 * short) is passed too: the file is no longer appended to when it is read.
 */
async function scanLines(path: string, from: number, onLine: (line: string, at: number) => boolean): Promise<number> {
  const file = await open(path, 'r');
  try {
    let pending = Buffer.alloc(0);
    let start = from;
    for (;;) {
      let newline: number;
      while ((newline = pending.indexOf(0x0a)) >= 0) {
        const more = onLine(pending.toString('utf8', 0, newline), start);
        start += newline + 1;
        pending = pending.subarray(newline + 1);
        if (!more) return start;
      }
      const chunk = Buffer.allocUnsafe(READ_CHUNK);
      const { bytesRead } = await file.read(chunk, 0, READ_CHUNK, start + pending.length);
      if (bytesRead === 0) {
        if (pending.length > 0) onLine(pending.toString('utf8'), start);
        return start + pending.length;
      }
      pending = pending.length > 0 ? Buffer.concat([pending, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

/** A line that is not a JSON object with a request id and a time is corrupt. */
function parseRow(line: string): SpendRow | null {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null) return null;
    const row = value as Partial<SpendRow>;
    return typeof row.request_id === 'string' && typeof row.at === 'number' ? (value as SpendRow) : null;
  } catch {
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}
