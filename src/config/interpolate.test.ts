import { describe, expect, it } from 'vitest';
import { interpolate } from './interpolate.js';

describe('interpolate', () => {
  it('replaces ${VAR} with the environment value', () => {
    const { value, missing } = interpolate({ auth: { master_key: '${MASTER}' } }, { MASTER: 'sk-master-1' });
    expect(value).toEqual({ auth: { master_key: 'sk-master-1' } });
    expect(missing).toEqual([]);
  });

  it('replaces references embedded in a longer string, several per string', () => {
    const { value } = interpolate({ url: 'postgres://${USER}:${PASS}@db:5432/switchyard' }, { USER: 'sy', PASS: 'p@ss' });
    expect(value).toEqual({ url: 'postgres://sy:p@ss@db:5432/switchyard' });
  });

  it('uses the default of ${VAR:-default} when the variable is unset or empty, and the value when set', () => {
    const tree = { storage: { url: '${DATABASE_URL:-sqlite://./data/switchyard.db}' } };
    expect(interpolate(tree, {}).value).toEqual({ storage: { url: 'sqlite://./data/switchyard.db' } });
    expect(interpolate(tree, { DATABASE_URL: '' }).value).toEqual({ storage: { url: 'sqlite://./data/switchyard.db' } });
    expect(interpolate(tree, { DATABASE_URL: 'postgres://x/y' }).value).toEqual({ storage: { url: 'postgres://x/y' } });
    // A variable with a default is never reported missing.
    expect(interpolate(tree, {}).missing).toEqual([]);
  });

  it('keeps characters of the default as they are (colons, slashes, spaces)', () => {
    expect(interpolate('${X:-a b:c/d?e=f}', {}).value).toBe('a b:c/d?e=f');
  });

  it('expands references and $$ inside a default, and reports a default\'s unset variable only when the default is used', () => {
    const tree = { api_key: '${PRIMARY_KEY:-${BACKUP_KEY}}', price: '${PRICE:-US$$5}', deep: '${A:-${B:-${C}}}!' };
    expect(interpolate(tree, { BACKUP_KEY: 'sk-backup', C: 'c' })).toMatchObject({ value: { api_key: 'sk-backup', price: 'US$5', deep: 'c!' }, missing: [], malformed: [] });
    expect(interpolate(tree, { PRIMARY_KEY: 'sk-primary', A: 'a' })).toMatchObject({ value: { api_key: 'sk-primary', price: 'US$5', deep: 'a!' }, missing: [] });
    const unset = interpolate(tree, { A: 'a' });
    expect(unset.value).toEqual({ price: 'US$5', deep: 'a!' });
    expect(unset.missing).toEqual(['BACKUP_KEY']);
  });

  it('reports a default left open or holding a malformed reference as malformed', () => {
    const { malformed } = interpolate({ a: '${A:-${B}', b: '${A:-${1X}}', c: '${A:-x' }, {});
    expect(malformed.map((m) => m.path)).toEqual([['a'], ['b'], ['c']]);
  });

  it('reports each unset variable without a default once, and the reference becomes empty', () => {
    const { value, missing } = interpolate(
      { a: 'key=${MISSING_ONE}', b: ['${MISSING_ONE}-x', '${MISSING_TWO}y'], c: '${SET}' },
      { SET: 'ok' },
    );
    expect(value).toEqual({ a: 'key=', b: ['-x', 'y'], c: 'ok' });
    expect([...missing].sort()).toEqual(['MISSING_ONE', 'MISSING_TWO']);
  });

  it('treats a variable set to the empty string like an unset one', () => {
    const { value, missing } = interpolate({ k: 'v=${EMPTY}' }, { EMPTY: '' });
    expect(value).toEqual({ k: 'v=' });
    expect(missing).toEqual(['EMPTY']);
  });

  it('drops a key whose value interpolates to nothing, so schema defaults apply to it', () => {
    const { value, missing } = interpolate({ redis: { url: '${REDIS_URL:-}' }, auth: { master_key: '${KEY}' } }, {});
    expect(value).toEqual({ redis: {}, auth: {} });
    expect(Object.hasOwn((value as { redis: object }).redis, 'url')).toBe(false);
    expect(missing).toEqual(['KEY']);
  });

  it('drops list items that interpolate to nothing', () => {
    expect(interpolate({ list: ['${A}', 'b', '${C:-}'] }, {}).value).toEqual({ list: ['b'] });
  });

  it('keeps a literal empty string (no reference) as it is', () => {
    expect(interpolate({ host: '' }, {}).value).toEqual({ host: '' });
  });

  it('turns $$ into a literal $ and does not interpolate an escaped reference', () => {
    const { value, missing } = interpolate({ price: 'US$$5', literal: '$${NOT_A_VAR}', both: '$$${SET}' }, { SET: 'x', NOT_A_VAR: 'nope' });
    expect(value).toEqual({ price: 'US$5', literal: '${NOT_A_VAR}', both: '$x' });
    expect(missing).toEqual([]);
  });

  it('leaves a lone $ and malformed references alone', () => {
    const { value, missing } = interpolate({ a: 'cost $5', b: '${1BAD}', c: '$NAME', d: '${UNCLOSED' }, { NAME: 'n' });
    expect(value).toEqual({ a: 'cost $5', b: '${1BAD}', c: '$NAME', d: '${UNCLOSED' });
    expect(missing).toEqual([]);
  });

  it('inserts env values as plain strings: YAML- or JSON-looking values cannot add structure', () => {
    const hostile = 'x\nproviders:\n  evil: { type: openai, base_url: http://attacker }';
    const { value } = interpolate({ auth: { master_key: '${KEY}' }, list: ['${ARR}'] }, { KEY: hostile, ARR: '[1, 2, {"a": 1}]' });
    expect(value).toEqual({ auth: { master_key: hostile }, list: ['[1, 2, {"a": 1}]'] });
  });

  it('does not interpolate a value that itself contains a reference (no recursion)', () => {
    expect(interpolate('${A}', { A: '${B}', B: 'deep' }).value).toBe('${B}');
  });

  it('passes numbers, booleans and null through untouched, and never interpolates keys', () => {
    const tree = { port: 8080, enabled: true, nothing: null, '${KEY}': 'v' };
    expect(interpolate(tree, { KEY: 'k' }).value).toEqual({ port: 8080, enabled: true, nothing: null, '${KEY}': 'v' });
  });

  it('does not modify the input tree', () => {
    const tree = { a: { b: '${X}' }, list: ['${X}'] };
    const before = structuredClone(tree);
    interpolate(tree, { X: 'new' });
    expect(tree).toEqual(before);
  });

  it('says where each unset variable was used (paths of the interpolated tree)', () => {
    const { value, unset } = interpolate(
      { providers: { az: { base_url: '${SY_UNSET}', api_key: 'k' } }, list: ['${GONE}', 'a', '${SY_LAT}ms'], ok: '${SET}', d: '${D:-x}' },
      { SET: 'y' },
    );
    expect(value).toEqual({ providers: { az: { api_key: 'k' } }, list: ['a', 'ms'], ok: 'y', d: 'x' });
    expect(unset).toEqual([
      { path: ['providers', 'az', 'base_url'], names: ['SY_UNSET'] },
      { path: ['list', 0], names: ['GONE'] },
      // The item removed before it shifts it to index 1.
      { path: ['list', 1], names: ['SY_LAT'] },
    ]);
  });
});
