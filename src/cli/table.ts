/** Plain-text tables for the CLI's reports: each column as wide as its widest cell, numbers right-aligned. */

export interface Column {
  header: string;
  /** 'right' for numbers, so their digits line up. */
  align?: 'left' | 'right';
}

/** Two spaces between columns; no trailing spaces; no final newline. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        return column.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...rows.map(line)].join('\n');
}
