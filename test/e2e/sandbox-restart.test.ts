import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gqlAt, spawnServer, stopServer, type ServerProcess } from '../support/process';
import { waitFor } from '../support/app';

/**
 * The sandbox's state across real process restarts (dist/src/main.js): the README's revoke, a restart, and the
 * store and the emulator still agree; then the reset endpoint and the offline reset command.
 */

const MAIN_DIR = path.resolve(__dirname, '..', '..', 'dist');
const REVOKED_ID = '9a8b7c6d5e4f30211f2e3d4c5b6a7980';
const MOVED_ID = '1b2c3d4e5f60718293a4b5c6d7e8f901';
const MEMBER = '40eb61714d9e49088bac7a3c56d69d66';

const REVOKE = `mutation ($id: ID!) {
  revokeSignFlow(input: { id: $id, etcMemberNo: "${MEMBER}", reason: "合同有误" }) { signFlow { status } userErrors { code } }
}`;
const READ = `query ($id: ID!) { signFlow(id: $id) { status providerStatus events { edges { node { status source } } } } }`;

type Read = { signFlow: { status: string; providerStatus: string; events: { edges: Array<{ node: { status: string; source: string } }> } } | null };

function savedCallbackState(dir: string, flowId: string): string | undefined {
  try {
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'sandbox.json'), 'utf8'));
    return state.callbacks.find((c: { subject: string }) => c.subject === flowId)?.state;
  } catch {
    return undefined;
  }
}

function savedEtcStatus(dir: string, flowId: string): number | undefined {
  try {
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'sandbox.json'), 'utf8'));
    return state.emulators.etc.flows.find((f: { flowId: string }) => f.flowId === flowId)?.status;
  } catch {
    return undefined;
  }
}

async function admin(server: ServerProcess, pathName: string, body?: unknown): Promise<any> {
  const res = await fetch(`${server.url}/sandbox/_admin${pathName}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { http: res.status, ...((await res.json()) as object) };
}

function runReset(env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(MAIN_DIR, 'scripts', 'sandbox-reset.js')], { env: { PATH: process.env.PATH ?? '', ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

describe('sandbox state across process restarts', () => {
  let dir: string;
  let env: Record<string, string>;
  let server: ServerProcess | undefined;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-sandbox-restart-'));
    env = { DATA_DIR: dir, SANDBOX: 'on' };
  });
  afterAll(async () => {
    await stopServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a revoke and an admin move across a hard kill: the store and the emulator agree afterwards', async () => {
    server = await spawnServer(env);
    const port = server.port;
    const revoked = await gqlAt<{ revokeSignFlow: unknown }>(server.graphqlUrl, REVOKE, { id: `ETC:${REVOKED_ID}` });
    expect(revoked.data!.revokeSignFlow).toEqual({ signFlow: { status: 'REVOKED' }, userErrors: [] });
    expect((await admin(server, `/etc/flows/${MOVED_ID}/transition`, { status: 'COMPLETED' })).http).toBe(200);
    await waitFor(async () => (await gqlAt<Read>(server!.graphqlUrl, READ, { id: `ETC:${MOVED_ID}` })).data?.signFlow?.status === 'COMPLETED', {
      timeoutMs: 15_000,
      what: 'the COMPLETED callback stored',
    });
    // Saved on change, not only on a clean stop: SIGKILL leaves no chance to write anything more.
    await waitFor(() => savedEtcStatus(dir, REVOKED_ID) === 3 && savedEtcStatus(dir, MOVED_ID) === 2 && savedCallbackState(dir, MOVED_ID) === 'acknowledged', {
      timeoutMs: 10_000,
      what: 'the state file',
    });
    await stopServer(server);

    server = await spawnServer(env, port);
    expect((await admin(server, `/etc/flows/${REVOKED_ID}`)).statusName).toBe('REVOKED');
    expect((await admin(server, `/etc/flows/${MOVED_ID}`)).statusName).toBe('COMPLETED');
    // The demo seed did not overwrite the saved state, and the flows the seed adds are still there.
    expect((await admin(server, '/etc/flows')).flows.map((f: { flowId: string }) => f.flowId)).toHaveLength(4);
    const again = await gqlAt<{ revokeSignFlow: { signFlow: { status: string }; userErrors: Array<{ code: string }> } }>(server.graphqlUrl, REVOKE, { id: `ETC:${REVOKED_ID}` });
    expect(again.data!.revokeSignFlow.signFlow.status).toBe('REVOKED');
    expect(again.data!.revokeSignFlow.userErrors.map((e) => e.code)).toEqual(['FLOW_NOT_REVOCABLE']);
    // The callbacks sent before the restart are still listed, with the API's answers.
    const callbacks = (await admin(server, '/callbacks')).callbacks as Array<{ subject: string; state: string; attempts: Array<{ status: number; response: string }> }>;
    expect(callbacks.filter((c) => c.subject === MOVED_ID).map((c) => [c.state, c.attempts.at(-1)?.status, c.attempts.at(-1)?.response])).toEqual([
      ['acknowledged', 200, '{"response_code":"000"}'],
    ]);
  });

  it('POST /sandbox/_admin/reset empties the emulators and the store\'s sandbox records, then puts the demo flows back', async () => {
    const before = await gqlAt<Read>(server!.graphqlUrl, READ, { id: `ETC:${REVOKED_ID}` });
    expect(before.data!.signFlow!.status).toBe('REVOKED');
    expect((await admin(server!, '/reset', {})).reset).toBe(true);
    expect((await admin(server!, `/etc/flows/${REVOKED_ID}`)).statusName).toBe('SIGNING');
    expect((await admin(server!, '/callbacks')).callbacks).toEqual([]);
    const after = await gqlAt<Read>(server!.graphqlUrl, READ, { id: `ETC:${REVOKED_ID}` });
    expect(after.data!.signFlow!.status).toBe('SIGNING');
    // The old events went with the flow; the read-through records the fresh state only.
    expect(after.data!.signFlow!.events.edges.map((e) => e.node.status)).not.toContain('REVOKED');
    const revoked = await gqlAt<{ revokeSignFlow: unknown }>(server!.graphqlUrl, REVOKE, { id: `ETC:${REVOKED_ID}` });
    expect(revoked.data!.revokeSignFlow).toEqual({ signFlow: { status: 'REVOKED' }, userErrors: [] });
  });

  it('npm run sandbox:reset does the same offline, and the next start has the demo flows fresh', async () => {
    const port = server!.port;
    await waitFor(() => savedEtcStatus(dir, REVOKED_ID) === 3, { timeoutMs: 10_000, what: 'the state file' });
    server!.kill('SIGTERM');
    expect(await server!.exited).toBe(0);
    server = undefined;

    const reset = await runReset(env);
    expect(reset).toMatchObject({ code: 0 });
    expect(reset.out).toMatch(/^removed .*sandbox\.json; store \(sqlite\): deleted [1-9]\d* flows/);
    expect(fs.existsSync(path.join(dir, 'sandbox.json'))).toBe(false);

    server = await spawnServer(env, port);
    expect((await admin(server, `/etc/flows/${REVOKED_ID}`)).statusName).toBe('SIGNING');
    const read = await gqlAt<Read>(server.graphqlUrl, READ, { id: `ETC:${REVOKED_ID}` });
    expect(read.data!.signFlow!.status).toBe('SIGNING');
  });

  it('the reset command refuses a configuration without the sandbox, naming why', async () => {
    const refused = await runReset({ ...env, SANDBOX: 'off', AUTH: 'off' });
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('the sandbox is off');
  });
});
