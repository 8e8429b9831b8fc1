/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time,
 * and self time grouped by where the code lives (switchyard's dist/, each node_modules package,
 * node internals, GC). Idle time is left out of the percentages.
 *
 * Run: node bench/profile-summary.mjs FILE.cpuprofile [--top=30]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Where a script URL belongs: "switchyard", "node_modules/<pkg>", "node:internal", or "(vm)". */
function origin(url) {
  if (!url) return '(native / vm)';
  if (url.startsWith('node:')) return 'node:internal';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return `npm:${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const dist = url.search(/\/\.?dist[^/]*\//);
  if (dist >= 0) return 'switchyard';
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url) {
  if (!url) return '';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const dist = url.search(/\/\.?dist[^/]*\//);
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

export function summarizeProfile(file, { top = 30 } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  /** The nearest ancestor frame that has a script URL (who called a native function). */
  const caller = (id) => {
    for (let p = parentOf.get(id); p !== undefined; p = parentOf.get(p)) {
      const frame = byId.get(p).callFrame;
      if (frame.url) return `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}`;
    }
    return undefined;
  };
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const functions = new Map();
  const origins = new Map();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id);
    if (callFrame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const name = callFrame.functionName || '(anonymous)';
    const from = callFrame.url ? undefined : caller(id);
    const key = callFrame.url ? `${name} ${shortUrl(callFrame.url)}:${callFrame.lineNumber + 1}` : `${name}${from ? ` <- ${from}` : ''}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
    const where = name.startsWith('(') && !callFrame.url ? name : origin(callFrame.url);
    origins.set(where, (origins.get(where) ?? 0) + us);
  }
  const pct = (us) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`busy ${(busy / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s (percentages are of busy time)`, '', 'self time by origin:'];
  for (const [where, us] of [...origins].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`  ${pct(us)}  ${where}`);
  lines.push('', `top ${top} functions by self time:`);
  for (const [key, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${key}`);
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top=30]');
    process.exit(2);
  }
  const topArg = process.argv.find((arg) => arg.startsWith('--top='));
  console.log(summarizeProfile(file, { top: topArg ? Number(topArg.slice(6)) : 30 }));
}
