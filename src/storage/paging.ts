/** Newest-first listings (audit log, request log) page by id: `before_id` continues where the last page ended. */

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1_000;

/** The page size to use: the default when none is asked for, otherwise clamped to 1..MAX_PAGE. */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  return Math.min(MAX_PAGE, Math.max(1, Math.floor(limit)));
}
