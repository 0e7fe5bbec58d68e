import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startApp, type RunningApp, type StartOptions } from '../../src/app';
import { silentLogger } from '../../src/logger';

export interface TestApp extends RunningApp {
  /** POST a GraphQL operation over real HTTP; `token` is sent as `Authorization: Bearer …`. */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string; headers?: Record<string, string>; extensions?: Record<string, unknown> },
  ): Promise<{ data?: T; errors?: Array<{ message: string; extensions?: Record<string, unknown> }>; status?: number }>;
  /** POST to the sandbox admin API. */
  admin<T = Record<string, unknown>>(pathName: string, body?: unknown): Promise<T>;
  /** A real graphql-ws client, disposed with the app; `token` goes in `connection_init` as `authorization`. */
  ws(options?: { token?: string }): Client;
}

/**
 * Starts the real server on a free port with a fresh SQLite file, the in-process sandbox and fast callback retries.
 * Everything it opens is closed by `close()`.
 */
export async function startTestApp(options: StartOptions & { env?: Record<string, string | undefined> } = {}): Promise<TestApp> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-test-'));
  const app = await startApp({
    logger: silentLogger,
    pollIntervalMs: 200,
    ...options,
    env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, SANDBOX: 'on', RATE_LIMIT_PER_MINUTE: '0', ...options.env },
    sandbox: { callbackRetryDelaysMs: () => 20, ...options.sandbox },
  });
  const clients: Client[] = [];
  return {
    ...app,
    async gql(query, variables, options = {}) {
      const res = await fetch(app.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers },
        body: JSON.stringify({ query, variables, extensions: options.extensions }),
      });
      return { ...((await res.json()) as object), status: res.status } as never;
    },
    async admin(pathName, body) {
      const res = await fetch(`${app.url}/sandbox/_admin${pathName}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`admin ${pathName} answered ${res.status}: ${text}`);
      return JSON.parse(text) as never;
    },
    ws(options = {}) {
      const client = createClient({
        url: app.wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        connectionParams: options.token ? { authorization: `Bearer ${options.token}` } : undefined,
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.dispose()));
      await app.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a truthy value or the deadline passes; no fixed sleeps in tests. */
export async function waitFor<T>(check: () => T | Promise<T>, { timeoutMs = 5000, intervalMs = 20, what = 'condition' } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Collects a subscription's `next` payloads until `count` arrived. */
export function collect<T>(client: Client, query: string, variables: Record<string, unknown> = {}): { items: T[]; errors: unknown[]; done: Promise<void>; stop: () => void } {
  const items: T[] = [];
  const errors: unknown[] = [];
  let stop: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    stop = client.subscribe<T>(
      { query, variables },
      {
        next: (message) => {
          if (message.errors) errors.push(...message.errors);
          if (message.data) items.push(message.data as T);
        },
        error: (error) => {
          errors.push(error);
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  return { items, errors, done, stop: () => stop() };
}
