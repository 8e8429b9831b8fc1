/**
 * The machine's floor for one hop: a loopback TCP round trip of one byte between two processes.
 * bench/run.mjs runs it with both ends on one core and on two, pinned; on a VM the difference is
 * the cost of waking an idle core, which every extra cross-core hop in a layout pays.
 *
 *   node bench/ping-pong.mjs server            prints {"event":"listening","port":N}, echoes bytes
 *   node bench/ping-pong.mjs client PORT [N]   N round trips after 1,000 unmeasured ones; prints
 *                                              {"event":"result","p50":µs,"p99":µs}
 */
import { connect, createServer } from 'node:net';

const [mode, portArg, countArg] = process.argv.slice(2);

if (mode === 'server') {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (bytes) => socket.write(bytes));
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ event: 'listening', port: server.address().port })));
} else if (mode === 'client') {
  const count = Number(countArg ?? 5000);
  const warmup = 1000;
  const samples = new Float64Array(count);
  const socket = connect(Number(portArg), '127.0.0.1', () => {
    socket.setNoDelay(true);
    let done = 0;
    let sentAt = 0n;
    const ping = () => {
      sentAt = process.hrtime.bigint();
      socket.write('x');
    };
    socket.on('data', () => {
      const µs = Number(process.hrtime.bigint() - sentAt) / 1000;
      if (done >= warmup) samples[done - warmup] = µs;
      if (++done < warmup + count) return ping();
      samples.sort();
      const at = (q) => Math.round(samples[Math.min(count - 1, Math.floor(q * count))] * 10) / 10;
      console.log(JSON.stringify({ event: 'result', p50: at(0.5), p99: at(0.99) }));
      socket.end();
    });
    ping();
  });
} else {
  console.error('usage: node bench/ping-pong.mjs server | client PORT [N]');
  process.exit(2);
}
