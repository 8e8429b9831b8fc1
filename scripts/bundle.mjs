#!/usr/bin/env node
/**
 * Bundles tsc's output (`build/`, one file per module) into what runs: `dist/main.js` plus the
 * chunks that are loaded only when the configuration needs them (native providers, Redis,
 * tracing). One bundle holds less in memory than ~1,300 separate modules: each module's source
 * text, wrapper and records stay on the heap for the life of the process, so the gateway at rest
 * takes ~15 MB less RSS and its CPU per request is no higher (docs/benchmarks.md, "Bundling").
 *
 * Whitespace and syntax are minified, identifiers are not, so stack traces stay readable; the
 * source maps lead back to `src/*.ts` (`node --enable-source-maps dist/main.js` to use them).
 *
 * `node scripts/bundle.mjs [--in=build] [--out=dist]`: another tsc output into another folder (a
 * baseline build for bench/compare.mjs, say).
 */
import { rmSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** Native addons find their compiled binary next to their own package: loaded from node_modules. */
const NATIVE = ['better-sqlite3', 'usearch'];

/**
 * With code splitting, esbuild gives `await import('a-commonjs-package')` a default export only,
 * where Node gives its named exports too: `const { Redis } = await import('ioredis')` works
 * unbundled and finds nothing in the bundle. A package loaded on demand is imported statically by
 * one of our modules, and that module is what gets imported dynamically.
 */
const noDynamicPackageImports = {
  name: 'no-dynamic-package-imports',
  setup(build) {
    build.onResolve({ filter: /^[^.]/ }, (args) => {
      if (args.kind !== 'dynamic-import' || isBuiltin(args.path) || NATIVE.includes(args.path)) return undefined;
      return { errors: [{ text: `import('${args.path}'): import the package statically in a module of ours, and import that module dynamically (see scripts/bundle.mjs)` }] };
    });
  },
};

const { values } = parseArgs({ options: { in: { type: 'string', default: 'build' }, out: { type: 'string', default: 'dist' } } });

rmSync(join(repo, values.out), { recursive: true, force: true });
await build({
  absWorkingDir: repo,
  entryPoints: [join(values.in, 'main.js')],
  outdir: values.out,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: NATIVE,
  minifyWhitespace: true,
  minifySyntax: true,
  // keepNames would wrap every function, per-request closures included, in a naming call: 4-13%
  // more CPU per request. Without it a class whose name collides with another is renamed
  // (pg's DatabaseError is DatabaseError2, as a log line's err.type).
  keepNames: false,
  sourcemap: 'linked',
  sourcesContent: false,
  // CommonJS dependencies call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);" },
  plugins: [noDynamicPackageImports],
  logLevel: 'warning',
});
