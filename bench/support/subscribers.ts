/**
 * Many graphql-ws subscribers in one process (the client side of P3), speaking the graphql-transport-ws protocol
 * over plain `ws` sockets to keep the client cheap. Protocol with the parent over IPC:
 * - start: connects `count` sockets to `url`, subscribes each with `query`, answers `{ ready: { connected } }`;
 * - `{ expect: n }`: answers `{ received }` once every socket has received n events (or after `timeoutMs`);
 * - `{ since: t0 }`: answers latency percentiles of the last event, from `t0` (ms since the epoch, fractional).
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

interface Config {
  url: string;
  count: number;
  query: string;
  /** Sockets opening at once. */
  parallel?: number;
}

const now = () => performance.timeOrigin + performance.now();

async function main(config: Config): Promise<void> {
  const received: number[] = new Array(config.count).fill(0);
  const lastAt: number[] = new Array(config.count).fill(0);
  const sockets: WebSocket[] = [];
  let errors = 0;
  const open = (i: number) =>
    new Promise<void>((resolve) => {
      const socket = new WebSocket(config.url, 'graphql-transport-ws');
      sockets.push(socket);
      let settled = false;
      const done = () => {
        if (!settled) {
          settled = true;
          resolve();
        }
      };
      socket.on('open', () => socket.send('{"type":"connection_init","payload":{}}'));
      socket.on('message', (data: Buffer) => {
        const text = data.toString();
        if (text.startsWith('{"type":"connection_ack"')) {
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: config.query } }));
          done();
          return;
        }
        if (text.includes('"type":"next"')) {
          lastAt[i] = now();
          received[i] = (received[i] ?? 0) + 1;
        } else if (text.includes('"type":"error"')) {
          errors += 1;
        }
      });
      socket.on('error', () => {
        errors += 1;
        done();
      });
    });
  const parallel = config.parallel ?? 200;
  for (let start = 0; start < config.count; start += parallel) {
    await Promise.all(Array.from({ length: Math.min(parallel, config.count - start) }, (_, k) => open(start + k)));
  }
  process.send!({ ready: { connected: sockets.filter((s) => s.readyState === WebSocket.OPEN).length, errors } });
  process.on('message', async (message: { expect?: number; since?: number; timeoutMs?: number }) => {
    if (message.expect !== undefined) {
      const deadline = Date.now() + (message.timeoutMs ?? 60_000);
      while (received.some((n) => n < (message.expect as number)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      process.send!({ received: received.filter((n) => n >= (message.expect as number)).length, errors });
    } else if (message.since !== undefined) {
      const latencies = lastAt.map((t) => t - (message.since as number)).sort((a, b) => a - b);
      const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))] ?? 0;
      process.send!({ p50Ms: at(50), p99Ms: at(99), maxMs: latencies.at(-1) ?? 0 });
    }
  });
}

if (require.main === module) {
  main(JSON.parse(process.argv[2] as string) as Config).catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
