/**
 * `mkdir -p` that fails where it cannot create a folder. Node's recursive mkdir retries forever
 * when the system answers ENOENT for a folder whose parent exists (a path under /proc or /sys,
 * say), so the gateway hung at start-up, silent, on such a storage path.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export function ensureDir(dir: string): void {
  const missing: string[] = [];
  for (let current = resolve(dir); !existsSync(current); current = dirname(current)) {
    missing.push(current);
    if (dirname(current) === current) break;
  }
  for (const folder of missing.reverse()) {
    try {
      mkdirSync(folder);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process made it first
    }
  }
}
