import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TypedDocumentNode } from '@apollo/client';
import { print } from 'graphql';
import { freePort } from '../support/process';

const ROOT = path.resolve(__dirname, '..', '..');
export const HIVE_GATEWAY_BIN = path.join(ROOT, 'node_modules', '.bin', 'hive-gateway');
export const HIVE_GATEWAY_CONFIG = path.join(ROOT, 'docs', 'hive-gateway', 'gateway.config.ts');
export const COMPOSE_SCRIPT = path.join(ROOT, 'docs', 'hive-gateway', 'compose.mjs');

interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | string>;
}

/** Its own process group, so that stopping it also stops whatever it forks. */
function spawnGroup(command: string, args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, output: () => out, exited };
}

/** Signals the whole group, then waits for the leader to exit; SIGKILL when it does not within the grace period. */
async function stopGroup(spawned: Spawned, graceMs = 5000): Promise<void> {
  const { child } = spawned;
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // the group is already gone
    }
  };
  signal('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  if ((await Promise.race([spawned.exited, late])) === 'late') {
    signal('SIGKILL');
    await spawned.exited;
  }
  clearTimeout(timer);
  // Children of the group that outlived the leader.
  signal('SIGKILL');
}

/** Runs docs/hive-gateway/compose.mjs against running subgraphs and writes the supergraph to `out`. */
export async function composeSupergraph(out: string, subgraphs: Record<string, string>): Promise<void> {
  const run = spawnGroup(process.execPath, [COMPOSE_SCRIPT, '--out', out, ...Object.entries(subgraphs).map(([name, url]) => `${name}=${url}`)]);
  const code = await run.exited;
  if (code !== 0) throw new Error(`compose.mjs exited with ${code}:\n${run.output()}`);
}

export interface HiveGateway {
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  output(): string;
  /** Stops the gateway's process group and waits for it to exit. */
  close(): Promise<void>;
}

/** Starts `hive-gateway supergraph <file>` with the documented config on a free port; resolves once it is ready. */
export async function startHiveGateway(supergraphFile: string, { timeoutMs = 30_000, env = {} as Record<string, string> } = {}): Promise<HiveGateway> {
  const port = await freePort();
  const gateway = spawnGroup(
    HIVE_GATEWAY_BIN,
    ['supergraph', supergraphFile, '--config-path', HIVE_GATEWAY_CONFIG, '--host', '127.0.0.1', '--port', String(port)],
    { NODE_ENV: 'production', LOG_LEVEL: 'warn', ...env },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gateway.child.exitCode !== null || gateway.child.signalCode !== null) throw new Error(`hive-gateway exited during start-up:\n${gateway.output()}`);
    try {
      if ((await fetch(`${url}/readiness`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopGroup(gateway, 0);
      throw new Error(`hive-gateway was not ready within ${timeoutMs} ms:\n${gateway.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    output: gateway.output,
    close: () => stopGroup(gateway),
  };
}

export interface GraphQLResponse<T> {
  data?: T | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, unknown> }>;
}

/** POSTs a typed document (from `npm run codegen`) over HTTP. */
export async function execute<TData, TVariables>(url: string, document: TypedDocumentNode<TData, TVariables>, variables: TVariables): Promise<GraphQLResponse<TData>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return (await res.json()) as GraphQLResponse<TData>;
}
