import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSandbox } from '../../src/sandbox';
import { REDACTED, redactBody } from '../../src/sandbox/kit';
import { STATE_VERSION, readStateFile, writeStateFile } from '../../src/sandbox/state-file';
import { get, post, startReceiver, startSandbox, waitFor, type Receiver, type RunningSandbox } from './etc/harness';

let dir: string;
let file: string;
let receiver: Receiver;
const running: RunningSandbox[] = [];

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-sandbox-state-'));
  file = path.join(dir, 'sandbox.json');
  receiver = await startReceiver();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
  await receiver.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<RunningSandbox> {
  const r = await startSandbox({ callbackUrl: (provider) => `${receiver.url}/${provider}`, stateFile: file });
  running.push(r);
  return r;
}

describe('sandbox state file', () => {
  it('brings back every emulator\'s flows, Tencent tasks and settings, Yuansfer authorizations and the callback history', async () => {
    const first = await start();
    const admin = (p: string) => `${first.base}/_admin${p}`;
    const etc = (await post(admin('/etc/flows'), { flowDesc: '保存' })).body.flowId as string;
    await post(admin(`/etc/flows/${etc}/transition`), { status: 'COMPLETED' });
    const esign = (await post(admin('/esign/flows'), { title: '标题' })).body.flowId as string;
    const tencent = (await post(admin('/tencent/flows'), { tencentStatus: 'PART' })).body.flowId as string;
    await post(admin('/tencent/settings'), { cancelTaskDelayMs: 5 });
    const autoDebitNo = (await post(admin('/yuansfer/auto-debits'), {})).body.autoDebitNo as string;
    await post(admin(`/yuansfer/auto-debits/${autoDebitNo}/revoke`), {});
    await waitFor(async () => (await get(admin('/callbacks'))).body.callbacks.every((c: { state: string }) => c.state !== 'pending'), 'the callbacks settled');
    const callbacksBefore = (await get(admin('/callbacks'))).body.callbacks;
    await first.close();
    running.splice(0);

    const second = await start();
    expect(second.sandbox.restored).toBe(true);
    const again = (p: string) => `${second.base}/_admin${p}`;
    expect((await get(again(`/etc/flows/${etc}`))).body).toMatchObject({ statusName: 'COMPLETED', flowDesc: '保存' });
    expect((await get(again(`/esign/flows/${esign}`))).body).toMatchObject({ statusName: 'SIGNING', title: '标题' });
    expect((await get(again(`/tencent/flows/${tencent}`))).body).toMatchObject({ status: 'PART' });
    expect((await post(again('/tencent/settings'), {})).body).toMatchObject({ cancelTaskDelayMs: 5 });
    expect((await get(again(`/yuansfer/auto-debits/${autoDebitNo}`))).body).toMatchObject({ status: 'REVOKED' });
    expect((await get(again('/callbacks'))).body.callbacks).toEqual(callbacksBefore);
    // A flow id that exists after the restart cannot be created twice.
    expect((await post(again('/etc/flows'), { flowId: etc })).status).toBe(409);
  });

  it('writes atomically, ignores a file of another version, and names a file that is not JSON', () => {
    writeStateFile(file, { version: STATE_VERSION, savedAt: 'now', emulators: {}, callbacks: [] });
    expect(fs.readdirSync(dir)).toEqual(['sandbox.json']);
    expect(readStateFile(file)).toEqual({ version: STATE_VERSION, savedAt: 'now', emulators: {}, callbacks: [] });
    fs.writeFileSync(file, JSON.stringify({ version: 999, emulators: { etc: { flows: [{ flowId: 'x' }] } } }));
    expect(readStateFile(file)).toBeUndefined();
    fs.writeFileSync(file, '{"version":1,');
    expect(() => readStateFile(file)).toThrow(`${file} is not JSON; delete it (or run npm run sandbox:reset) to start the sandbox afresh`);
    expect(readStateFile(path.join(dir, 'absent.json'))).toBeUndefined();
  });

  it('finishes a Tencent batch task that a saved state holds as still running', async () => {
    const first = await start();
    const admin = (p: string) => `${first.base}/_admin${p}`;
    const flowId = (await post(admin('/tencent/flows'), {})).body.flowId as string;
    await post(admin('/tencent/settings'), { cancelTaskOutcome: 'HOLD' });
    // The state as a process stopped mid-task would have saved it: the task PROCESSING, its flow marked.
    const state = first.sandbox.tencent.exportState!() as { flows: Array<Record<string, unknown>>; tasks: unknown[]; settings: Record<string, unknown> };
    state.flows[0].cancellingTask = 'yDtask';
    state.tasks.push({ taskId: 'yDtask', status: 'PROCESSING', accepted: [flowId], message: '撤销', successFlowIds: [], failureFlows: [] });
    state.settings = { ...state.settings, cancelTaskOutcome: 'END', cancelTaskDelayMs: 1 };
    first.sandbox.tencent.importState!(JSON.parse(JSON.stringify(state)));
    await waitFor(async () => (await get(admin(`/tencent/flows/${flowId}`))).body.status === 'CANCEL', 'the task to end after the restore');
    await waitFor(() => receiver.received.some((cb) => cb.url === '/callbacks/tencent'), 'the CancelFlows callback');
  });
});

describe('redaction of admin answers', () => {
  it('hides signature and token fields of JSON and form bodies, and leaves other text alone', () => {
    expect(redactBody({ appId: 'a', sign: 'c2lnbmF0dXJl', params: { flowId: 'f', token: 't' } })).toEqual({ appId: 'a', sign: REDACTED, params: { flowId: 'f', token: REDACTED } });
    expect(redactBody('autoDebitNo=1&verifySign=abc&time=2')).toBe(`autoDebitNo=1&verifySign=${encodeURIComponent(REDACTED)}&time=2`);
    expect(redactBody('success')).toBe('success');
    expect(redactBody('{"not":"parsed"}')).toBe('{"not":"parsed"}');
  });

});

describe('a sandbox without a state file', () => {
  it('keeps its state in memory only', () => {
    const sandbox = createSandbox({ callbackUrl: () => 'http://127.0.0.1:1/callbacks/etc' });
    expect(sandbox.restored).toBe(false);
    return sandbox.close();
  });
});
