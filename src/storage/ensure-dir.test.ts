import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDir } from './ensure-dir.js';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-ensure-dir-'));

describe('ensureDir', () => {
  it('creates every missing folder, and accepts one that exists', () => {
    const nested = join(dir, 'a', 'b', 'c');
    ensureDir(nested);
    expect(statSync(nested).isDirectory()).toBe(true);
    expect(() => ensureDir(nested)).not.toThrow();
  });

  it('fails under a file', () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, '');
    expect(() => ensureDir(join(file, 'sub'))).toThrow(/ENOTDIR/);
  });

  // fs.mkdirSync(..., { recursive: true }) never returns here: /proc exists, /proc/nope cannot be made.
  it.skipIf(!existsSync('/proc/self'))('fails where the system cannot create the folder, instead of retrying forever', () => {
    expect(() => ensureDir('/proc/switchyard-nope/data')).toThrow(/ENOENT: no such file or directory, mkdir '\/proc\/switchyard-nope'/);
  });
});
