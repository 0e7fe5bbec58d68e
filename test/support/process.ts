import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ESIGN_SANDBOX_APP_ID, ESIGN_SANDBOX_APP_SECRET, ETC_SANDBOX_APP_ID, ETC_SANDBOX_PRIVATE_KEY, TENCENT_SANDBOX } from '../../src/config';

const MAIN = path.resolve(__dirname, '..', '..', 'dist', 'src', 'main.js');

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

export interface ServerProcess {
  port: number;
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts `node dist/src/main.js` (the real entry point) on a free port and waits until it answers /healthz. */
export async function spawnServer(env: Record<string, string>, port?: number): Promise<ServerProcess> {
  const p = port ?? (await freePort());
  // Without DATA_DIR, a fresh folder of its own: servers started together (or a fresh clone's first run) must not
  // share, and race to migrate, one ./data/esign.sqlite. A test that restarts a server names its DATA_DIR.
  const ownDir = env.DATA_DIR === undefined && env.DATABASE_URL === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'esign-proc-')) : undefined;
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', HOST: '127.0.0.1', RATE_LIMIT_PER_MINUTE: '0', ...(ownDir ? { DATA_DIR: ownDir } : {}), ...env, PORT: String(p) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (ownDir) child.once('exit', () => fs.rmSync(ownDir, { recursive: true, force: true }));
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = `http://127.0.0.1:${p}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited during start-up:\n${out}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start within 20 s:\n${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port: p,
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `ws://127.0.0.1:${p}/graphql`,
    child,
    output: () => out,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

export async function stopServer(server: ServerProcess | undefined): Promise<void> {
  if (!server) return;
  server.kill('SIGKILL');
  await server.exited;
}

export async function gqlAt<T = Record<string, unknown>>(url: string, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as { data?: T; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

/**
 * Configuration for an API process with SANDBOX=off whose providers are the emulators at `sandboxUrl` (a
 * standalone sandbox), using the same published test credentials the in-process sandbox uses.
 */
export function providerEnv(sandboxUrl: string): Record<string, string> {
  return {
    SANDBOX: 'off',
    // These suites are about providers, replicas and crashes; authentication has its own (test/e2e/auth.test.ts).
    AUTH: 'off',
    ETC_GATEWAY_URL: `${sandboxUrl}/etc/api/gateway`,
    ETC_APP_ID: ETC_SANDBOX_APP_ID,
    ETC_PRIVATE_KEY: ETC_SANDBOX_PRIVATE_KEY,
    ESIGN_BASE_URL: `${sandboxUrl}/esign`,
    ESIGN_APP_ID: ESIGN_SANDBOX_APP_ID,
    ESIGN_APP_SECRET: ESIGN_SANDBOX_APP_SECRET,
    TENCENT_ESS_ENDPOINT: `${sandboxUrl}/tencent`,
    TENCENT_SECRET_ID: TENCENT_SANDBOX.secretId,
    TENCENT_SECRET_KEY: TENCENT_SANDBOX.secretKey,
    TENCENT_ESS_APP_ID: TENCENT_SANDBOX.appId,
    TENCENT_ESS_PROXY_ORG_OPEN_ID: TENCENT_SANDBOX.proxyOrganizationOpenId,
    TENCENT_ESS_PROXY_OPERATOR_OPEN_ID: TENCENT_SANDBOX.proxyOperatorOpenId,
    TENCENT_ESS_CALLBACK_KEY: TENCENT_SANDBOX.callbackKey,
    TENCENT_ESS_CALLBACK_TOKEN: TENCENT_SANDBOX.callbackToken,
    // The standalone emulators these suites start post ETC callbacks without the URL token; the start-up requirement
    // of ETC_CALLBACK_SECRET is lifted explicitly (test/e2e/production.test.ts covers it).
    ETC_CALLBACK_VERIFY: 'off',
  };
}
