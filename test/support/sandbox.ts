import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { silentLogger } from '../../src/logger';
import { createSandbox, type ProviderName, type Sandbox } from '../../src/sandbox';

export interface SandboxServer {
  url: string;
  sandbox: Sandbox;
  admin<T = Record<string, unknown>>(pathName: string, body?: unknown, method?: string): Promise<T>;
  close(): Promise<void>;
}

/** The emulators alone on a free port (as `npm run sandbox` serves them), for suites that run the API as processes. */
export async function startSandboxServer(
  callbackUrl: (provider: ProviderName) => string,
  retryDelayMs = 50,
  historyLimit = 1000,
): Promise<SandboxServer> {
  const sandbox = createSandbox({ callbackUrl, logger: silentLogger, callbackRetryDelaysMs: () => retryDelayMs, historyLimit });
  const app = express();
  app.use(sandbox.router);
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    sandbox,
    async admin(pathName, body, method) {
      const res = await fetch(`${url}/_admin${pathName}`, {
        method: method ?? (body === undefined ? 'GET' : 'POST'),
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`admin ${pathName} answered ${res.status}: ${text}`);
      return (text ? JSON.parse(text) : {}) as never;
    },
    async close() {
      await sandbox.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
