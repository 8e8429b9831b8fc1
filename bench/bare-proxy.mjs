/**
 * The floor: the least a Node.js proxy can do — node:http in, undici (keep-alive Pool) out, bytes
 * passed through untouched (streams chunk by chunk), no parsing, auth, logging or metrics. Run on
 * the gateway's core, it shows how much of the gateway's "added" latency is the extra process hop
 * and Node's HTTP stack on this machine, rather than the gateway's own work.
 *
 * Run: node bench/bare-proxy.mjs --upstream=http://127.0.0.1:PORT [--port=0] [--busy-poll-us=N]
 * (`--busy-poll-us`: the gateway's busy polling, src/busy-poll.ts from build/, so that
 * `npm run bench -- --busy-poll=N` compares like with like.)
 * Prints {"event":"listening","port":N} on stdout.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const flag = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const upstream = flag('upstream');
if (!upstream) {
  console.error('usage: node bench/bare-proxy.mjs --upstream=http://127.0.0.1:PORT [--port=0]');
  process.exit(2);
}
const pool = new Pool(upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 600_000 });

const server = createServer((req, res) => {
  const parts = [];
  req.on('data', (part) => parts.push(part));
  req.on('end', () => {
    const body = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    pool.request({ path: req.url, method: req.method, headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' }, body }).then(
      (upstreamRes) => {
        const type = upstreamRes.headers['content-type'] ?? 'application/json';
        if (String(type).startsWith('text/event-stream')) {
          res.writeHead(upstreamRes.statusCode, { 'content-type': type, 'cache-control': 'no-cache' });
          upstreamRes.body.on('data', (chunk) => res.write(chunk));
          upstreamRes.body.on('end', () => res.end());
          upstreamRes.body.on('error', () => res.destroy());
          return;
        }
        const chunks = [];
        upstreamRes.body.on('data', (chunk) => chunks.push(chunk));
        upstreamRes.body.on('end', () => {
          const out = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
          res.writeHead(upstreamRes.statusCode, { 'content-type': type, 'content-length': String(out.length) });
          res.end(out);
        });
        upstreamRes.body.on('error', () => res.destroy());
      },
      (err) => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `bare proxy: ${err.message}`, type: 'upstream_error' } }));
      },
    );
  });
});
const busyPollUs = Number(flag('busy-poll-us', '0'));
if (busyPollUs > 0) {
  // The gateway's own busy polling (tsc's output of src/busy-poll.ts; npm run bench builds it).
  const { BusyPoll } = await import('../build/busy-poll.js');
  new BusyPoll(busyPollUs).watch(server);
}
server.keepAliveTimeout = 120_000;
server.headersTimeout = 0;
server.requestTimeout = 0;
server.listen(Number(flag('port', '0')), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: server.address().port })}\n`);
});
const stop = () => {
  server.closeAllConnections();
  server.close(() => void pool.close().then(() => process.exit(0)));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
