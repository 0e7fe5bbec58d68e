// First: tracing must patch http, express, graphql, pg and ioredis before anything loads them.
import { shutdownTelemetry } from './telemetry';
import 'reflect-metadata';
import { startApp, type RunningApp } from './app';
import { ConfigError } from './config';
import { createLogger } from './logger';

/** Demo flows the in-process sandbox starts with (ids from the providers' published examples), so the printed example works. */
export const DEMO_FLOWS = [
  { flowId: 'c64665aa4f1c45679e65b6fae33cd773', status: 'SIGNING' },
  { flowId: '1b2c3d4e5f60718293a4b5c6d7e8f901', status: 'SIGNING' },
  { flowId: '9a8b7c6d5e4f30211f2e3d4c5b6a7980', status: 'SIGNING' },
  { flowId: '587a2f4738d44391835198df570b6ee6', status: 'COMPLETED' },
] as const;

function authLine(app: RunningApp): string {
  const auth = app.config.auth;
  if (!auth.enabled) {
    return auth.explicitlyOff
      ? 'OFF (AUTH=off): every caller may do everything — never expose this'
      : 'off (sandbox mode, no AUTH_* set): every caller is trusted; set AUTH_JWT_SECRET or AUTH_JWKS_URL to require tokens';
  }
  const ways = [auth.jwtSecret && 'HS256 (AUTH_JWT_SECRET)', auth.jwksUrl && 'JWKS (AUTH_JWKS_URL)', auth.gatewayHmacSecret && 'Hive Gateway (AUTH_GATEWAY_HMAC_SECRET)'].filter(Boolean);
  return `bearer JWT required: ${ways.join(', ')}`;
}

/** The message for a port another process holds (EADDRINUSE): which port, and how to pick another. */
export function portInUse(error: unknown): string | undefined {
  const e = error as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e?.code !== 'EADDRINUSE') return undefined;
  const port = e.port ?? Number(process.env.PORT ?? 4000);
  return (
    `port ${port} is already in use${e.address ? ` on ${e.address}` : ''}: another program (perhaps another npm start) is listening there. ` +
    `Stop it, or pick another port: PORT=${port === 65535 ? 4001 : port + 1} npm start (PORT=0 picks a free one)`
  );
}

function banner(app: RunningApp): string {
  const query = `{ signFlow(id: "ETC:${DEMO_FLOWS[0].flowId}") { id status providerStatus updatedAt } }`;
  const lines = [
    '',
    ...(app.ide ? [`  IDE          ${app.graphqlUrl}   (GraphiQL: open it in a browser)`] : []),
    `  GraphQL      ${app.graphqlUrl}`,
    `  WebSocket    ${app.wsUrl}  (graphql-transport-ws)`,
    `  SSE          ${app.graphqlUrl}/stream  (graphql-sse, for clients without WebSockets)`,
    `  Health       ${app.url}/healthz   ${app.url}/readyz`,
    `  Auth         ${authLine(app)}`,
  ];
  if (app.sandbox) {
    lines.push(
      `  Sandbox      ${app.url}/sandbox   (console; demo ETC flows: ${DEMO_FLOWS.map((f) => f.flowId.slice(0, 8)).join(', ')})`,
      '',
      '  Try it:',
      `    curl -s ${app.graphqlUrl} -H 'content-type: application/json' \\`,
      `      -d '${JSON.stringify({ query })}'`,
      '',
      '  Watch a flow change (two terminals):',
      '    npm run watch',
      `    curl -s -X POST ${app.url}/sandbox/_admin/etc/flows/${DEMO_FLOWS[1].flowId}/transition \\`,
      `      -H 'content-type: application/json' -d '{"status":"COMPLETED"}'`,
    );
  }
  return `${lines.join('\n')}\n\n`;
}

async function main(): Promise<void> {
  const logger = createLogger();
  let app: RunningApp;
  try {
    // The demo flows go in when the sandbox starts with no saved state (DATA_DIR/sandbox.json) and after a reset.
    app = await startApp({
      logger,
      sandboxSeed: (sandbox) => {
        for (const flow of DEMO_FLOWS) sandbox.etc.createFlow({ flowId: flow.flowId, status: flow.status });
      },
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.fatal(`configuration error: ${error.message}`);
      process.exit(2);
    }
    const busy = portInUse(error);
    if (busy) {
      logger.fatal(busy);
      process.stderr.write(`\n${busy}\n\n`);
      process.exit(1);
    }
    throw error;
  }
  process.stdout.write(banner(app));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, app.config.shutdownTimeoutMs);
    force.unref();
    // Spans still batched are sent before the process exits (a no-op without tracing).
    const flush = () => shutdownTelemetry().catch((error: unknown) => logger.warn({ err: error }, 'flushing traces failed'));
    app.close().then(
      () => flush().then(() => process.exit(0)),
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        void flush().then(() => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error) => {
  createLogger().fatal({ err: error }, 'failed to start');
  process.exit(1);
});
