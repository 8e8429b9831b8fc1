/**
 * A batch the database refused for the values it carried (no retry can change that) is written
 * row by row, so one bad row never holds back the rows behind it: each row goes on its own under
 * an id derived from the batch's (`<batch id>/<index>`, so the sink's once-only rule still holds),
 * and a row refused for its values is dropped. Any other failure (an outage midway) is thrown; the
 * whole batch comes back later, and the rows already written or dropped are not sent again.
 */
import type { SpendRow } from '../governance/types.js';

export interface RowByRowOptions {
  write: (rows: SpendRow[], batchId: string) => Promise<void>;
  isDataError: (err: unknown) => boolean;
  /** A row the database took (counted as it goes: an outage may cut the batch short). */
  onWritten: () => void;
  /** A row the database refused is dropped; this hears why, naming its request. */
  onRefused: (err: Error) => void;
}

export class RowByRow {
  /** Rows written or refused (`<batch id>/<index>`) of a batch not yet finished: each is settled once. */
  readonly #settled = new Set<string>();

  constructor(private readonly options: RowByRowOptions) {}

  /** Writes the batch's rows one at a time. */
  async write(rows: readonly SpendRow[], batchId: string): Promise<void> {
    for (let i = 0; i < rows.length; i++) {
      const rowId = `${batchId}/${i}`;
      if (this.#settled.has(rowId)) continue;
      try {
        await this.options.write([rows[i]!], rowId);
        this.options.onWritten();
      } catch (err) {
        if (!this.options.isDataError(err)) throw err;
        const why = err instanceof Error ? err.message : String(err);
        this.options.onRefused(new Error(`a spend row the database refuses was dropped (request ${rows[i]!.request_id}): ${why}`, { cause: err }));
      }
      this.#settled.add(rowId);
    }
    for (let i = 0; i < rows.length; i++) this.#settled.delete(`${batchId}/${i}`);
  }
}
