#!/usr/bin/env node
/** Process entry: run the CLI; a failure prints an actionable message and exits non-zero. */
// First: V8's heap settings apply to what every later module allocates. The CLI (and the whole
// gateway with it) is imported only after them: in the bundle a static import would put its
// modules in a chunk that runs before this file's own code.
import './heap-tuning.js';

const { describeCliError, runCli } = await import('./cli/index.js');

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`switchyard: unhandled rejection (a bug; please report it): ${String((reason as Error)?.stack ?? reason)}\n`);
});

runCli(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`switchyard: ${describeCliError(err, process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace')}\n`);
    process.exitCode = 1;
  },
);
