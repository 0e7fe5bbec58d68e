/**
 * Process plumbing for `npm run bench`: every server measured (the API and each baseline) and every load generator
 * runs in its own Node process, so the load never shares an event loop with what it measures.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const DIST_ROOT = path.resolve(__dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident set size of a process in KB (Linux /proc), 0 where unavailable. */
export function rssKb(pid: number | undefined): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  load: string;
}

export function machine(): Machine {
  return { cores: os.cpus().length, cpu: os.cpus()[0]?.model.trim() ?? 'unknown', node: process.version, load: os.loadavg().map((l) => l.toFixed(2)).join(' ') };
}

export interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the process has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The API as in production (`node dist/src/main.js`), sandbox on, on a fresh SQLite file or the given database. */
export async function startApi(env: Record<string, string | undefined> = {}): Promise<Server> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-bench-'));
  // BENCH_API_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the API alone (NODE_OPTIONS refuses --cpu-prof).
  const nodeArgs = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(DIST_ROOT, 'src', 'main.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dir, SANDBOX: 'on', LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '0', DATABASE_URL: undefined, REDIS_URL: undefined, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    if (child.exitCode !== null) throw new Error(`the API exited during start-up (code ${child.exitCode})`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, child, stop };
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  await stop();
  throw new Error('the API did not start within 60 s');
}

/**
 * Runs a bench module (dist/bench/support/<name>.js) as a child with an IPC channel. It answers `{ ready: … }` once
 * it is set up; further messages are its results.
 */
export class Worker {
  readonly child: ChildProcess;
  private readonly inbox: unknown[] = [];
  private waiter?: (message: unknown) => void;

  private constructor(name: string, args: string[], env: Record<string, string | undefined>) {
    this.child = fork(path.join(DIST_ROOT, 'bench', 'support', `${name}.js`), args, { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(message);
      } else this.inbox.push(message);
    });
  }

  static async start<R>(name: string, args: string[] = [], env: Record<string, string | undefined> = {}): Promise<{ worker: Worker; ready: R }> {
    const worker = new Worker(name, args, env);
    try {
      const first = (await worker.next(600_000)) as { ready: R };
      return { worker, ready: first.ready };
    } catch (error) {
      await worker.stop();
      throw error;
    }
  }

  send(message: unknown): void {
    this.child.send(message as never);
  }

  next<T = unknown>(timeoutMs = 300_000): Promise<T> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued as T);
    return new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`bench worker exited (code ${code})`));
      const timer = setTimeout(() => reject(new Error('bench worker did not answer in time')), timeoutMs);
      this.child.once('exit', onExit);
      this.waiter = (message) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        resolve(message as T);
      };
    });
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

/** Waits for a worker's own single result and its exit. */
export async function runWorker<T>(name: string, config: unknown): Promise<T> {
  const { worker, ready } = await Worker.start<T>(name, [JSON.stringify(config)]);
  await worker.stop();
  return ready;
}
