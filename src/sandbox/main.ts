import express from 'express';
import { createLogger } from '../logger';
import { createSandbox } from '.';

/**
 * `npm run sandbox`: the provider emulators alone, for running the API (or anything else) against them from
 * another process. SANDBOX_PORT (default 4010); callbacks go to SANDBOX_CALLBACK_BASE (default
 * http://127.0.0.1:4000) + `/callbacks/<provider>`, with `?token=$ETC_CALLBACK_SECRET` for ETC when that is set.
 */

const logger = createLogger({ name: 'esign-sandbox' });

function fail(message: string): never {
  logger.fatal(message);
  process.exit(1);
}

function readPort(): number {
  const raw = process.env.SANDBOX_PORT ?? '4010';
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) fail(`SANDBOX_PORT must be a port number from 1 to 65535, got "${raw}"`);
  return port;
}

function readCallbackBase(): string {
  const raw = process.env.SANDBOX_CALLBACK_BASE ?? 'http://127.0.0.1:4000';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(`SANDBOX_CALLBACK_BASE must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`SANDBOX_CALLBACK_BASE must be an http(s) URL, got "${raw}"`);
  return raw.replace(/\/+$/, '');
}

const CALLBACK_PATHS = { etc: 'etc', tencent: 'tencent-ess', esign: 'esign', yuansfer: 'yuansfer' } as const;

function main(): void {
  const port = readPort();
  const callbackBase = readCallbackBase();
  const etcSecret = process.env.ETC_CALLBACK_SECRET;

  const adminToken = process.env.SANDBOX_ADMIN_TOKEN?.trim() || undefined;
  if (adminToken !== undefined && (adminToken.length < 16 || /\s/.test(adminToken))) fail('SANDBOX_ADMIN_TOKEN must be at least 16 characters with no whitespace');

  const sandbox = createSandbox({
    logger,
    access: { token: adminToken },
    callbackUrl: (provider) => {
      const url = `${callbackBase}/callbacks/${CALLBACK_PATHS[provider]}`;
      return provider === 'etc' && etcSecret ? `${url}?token=${encodeURIComponent(etcSecret)}` : url;
    },
  });

  const app = express();
  app.disable('x-powered-by');
  app.use(sandbox.router);
  const server = app.listen(port, () => {
    logger.info({ url: `http://127.0.0.1:${port}`, callbacks: `${callbackBase}/callbacks/…` }, 'sandbox listening');
  });
  server.on('error', (error) => fail(`sandbox could not listen on port ${port}: ${error.message}`));

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'sandbox shutting down');
    void sandbox.close().then(() => {
      server.close(() => process.exit(0));
      server.closeAllConnections();
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main();
