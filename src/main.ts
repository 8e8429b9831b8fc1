#!/usr/bin/env node
/** Process entry: run the CLI; a failure prints an actionable message and exits non-zero. */
// First: V8's heap settings apply to what every later module allocates.
import './heap-tuning.js';
import { describeCliError, runCli } from './cli/index.js';

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
