import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EsignClient, parseFlowDetail, readEnvelope } from '../../../src/providers/esign/client';
import { esignError, rescissionBody } from '../../../src/providers/esign/mapping';
import {
  ProviderAuthenticationError,
  ProviderBusinessError,
  ProviderInvalidRequestError,
  ProviderNotFoundError,
  ProviderPermissionError,
  ProviderRateLimitError,
  ProviderResponseError,
  ProviderServerError,
} from '../../../src/providers/errors';
import { signedHeaders } from '../../sandbox/esign/signer';

const SECRET = 'testAppSecret0123456789';

const answer = (status: number, body: unknown) => ({ status, headers: {}, text: typeof body === 'string' ? body : JSON.stringify(body) });

describe('readEnvelope', () => {
  it('returns data for code 0, as a number or a digit string', () => {
    expect(readEnvelope(answer(200, { code: 0, message: '成功', data: { signFlowId: 'x' } }))).toEqual({ signFlowId: 'x' });
    expect(readEnvelope(answer(200, { code: '0', message: '成功', data: null }))).toBeNull();
  });

  it.each([
    [401, 401, ProviderAuthenticationError],
    [200, 403, ProviderPermissionError],
    [429, 429, ProviderRateLimitError],
    [400, 400, ProviderInvalidRequestError],
    [200, 1435002, ProviderInvalidRequestError],
    [404, 404, ProviderInvalidRequestError],
    [200, 1437104, ProviderNotFoundError],
    [500, 500, ProviderServerError],
    [200, 1439102, ProviderBusinessError],
    [200, 1439107, ProviderBusinessError],
  ])('maps HTTP %i code %i to %p, deciding on the code', (status, code, type) => {
    const call = () => readEnvelope(answer(status, { code, message: 'whatever the message says', data: null }));
    expect(call).toThrow(type);
    if (status !== 429) {
      expect(call).toThrow(expect.objectContaining({ provider: 'ESIGN', code: String(code) }));
    }
  });

  it('keeps the provider message for a business refusal', () => {
    expect(() => readEnvelope(answer(200, { code: 1439102, message: '该流程不支持解约!', data: null }))).toThrow('e签宝 1439102: 该流程不支持解约!');
  });

  it('treats unreadable answers as typed errors', () => {
    expect(() => readEnvelope(answer(502, '<html>bad gateway</html>'))).toThrow(ProviderServerError);
    expect(() => readEnvelope(answer(200, 'not json'))).toThrow(ProviderResponseError);
    expect(() => readEnvelope(answer(200, { message: 'no code' }))).toThrow('without an integer code');
    expect(() => readEnvelope(answer(200, [1, 2]))).toThrow(ProviderResponseError);
    expect(() => readEnvelope(answer(503, { message: 'no code' }))).toThrow(ProviderServerError);
  });

  it('never maps a 5xx code to a business refusal', () => {
    expect(esignError(503, 'busy')).toBeInstanceOf(ProviderServerError);
  });
});

describe('parseFlowDetail', () => {
  const detail = { signFlowStatus: 2, rescissionStatus: 0, rescissionSignFlowIds: [], signFlowFinishTime: 1700000000000, docs: [{ fileId: 'a' }, { fileId: 'b' }] };

  it('maps the integer status, the finish time and the files', () => {
    expect(parseFlowDetail('f1', detail)).toEqual({
      providerFlowId: 'f1',
      status: 'COMPLETED',
      providerStatus: '2',
      fileUrl: null,
      endedAt: new Date(1700000000000),
      data: { fileIds: ['a', 'b'], rescissionStatus: 0, rescissionSignFlowIds: [] },
    });
  });

  it('reads a completed flow whose files are all rescinded as RESCINDED', () => {
    expect(parseFlowDetail('f1', { ...detail, rescissionStatus: 3, rescissionSignFlowIds: ['r1'] })).toMatchObject({
      status: 'RESCINDED',
      providerStatus: 'rescission:3',
      data: { rescissionStatus: 3, rescissionSignFlowIds: ['r1'] },
    });
    expect(parseFlowDetail('f1', { ...detail, rescissionStatus: 2 }).status).toBe('COMPLETED');
  });

  it.each([
    [{ signFlowStatus: 1, signFlowFinishTime: 0 }, { status: 'SIGNING', endedAt: null }],
    [{ signFlowStatus: 3 }, { status: 'REVOKED', providerStatus: '3' }],
    [{ signFlowStatus: 8 }, { status: 'UNKNOWN', providerStatus: '8' }],
  ])('maps %j', (data, expected) => {
    expect(parseFlowDetail('f1', data)).toMatchObject(expected);
  });

  it.each([
    [null, 'data is not an object'],
    [{ signFlowStatus: 'two' }, 'data.signFlowStatus is not an integer'],
    [{ signFlowStatus: 2, rescissionStatus: 'x' }, 'data.rescissionStatus is not an integer'],
    [{ signFlowStatus: 2, docs: [{ name: 'x' }] }, 'data.docs is not a list of {fileId}'],
  ])('refuses %j naming the field', (data, message) => {
    expect(() => parseFlowDetail('f1', data)).toThrow(`e签宝 detail of f1: ${message}`);
  });
});

describe('rescissionBody', () => {
  it('is the seed-003 body: reason "1".."5", exactly one initiator, optional parts only when given', () => {
    expect(
      rescissionBody({
        providerFlowId: 'f',
        fileIds: ['f78dd1a2b3'],
        reason: 'WRONG_TERMS',
        initiator: { kind: 'organization', orgId: '842ec8ce3a', transactorPsnId: '7ffcae0b1c' },
        notifyUrl: 'https://api.example/callbacks/esign',
      }),
    ).toEqual({
      rescindFileList: ['f78dd1a2b3'],
      rescindReason: '1',
      rescissionInitiator: { orgInitiator: { orgId: '842ec8ce3a', transactor: { psnId: '7ffcae0b1c' } } },
      signFlowConfig: { notifyUrl: 'https://api.example/callbacks/esign' },
    });
  });

  it('maps every option to e签宝 codes', () => {
    expect(
      rescissionBody({
        providerFlowId: 'f',
        fileIds: ['a', 'b'],
        reason: 'OTHER',
        notes: '说明',
        initiator: { kind: 'person', psnId: 'p1' },
        notifyUrl: 'https://n.example/cb?x=1',
        signFlowConfig: {
          expireTime: new Date(1800000000000),
          charge: { mode: 'INITIATOR_ORGANIZATION', orderType: 'DISTRIBUTION' },
          sign: { availableSignClientTypes: ['ALIPAY', 'WEB'], psnSealStyles: ['HANDWRITING_AI_CHECK', 'HANDWRITING_AI_CHECK'] },
          notice: { noticeTypes: [], examineNotice: false },
        },
        autoSignOrg: [{ orgName: '某公司', sealId: 's1' }],
        orgSignerTransactor: [{ orgId: 'o2', transactorInfo: { psnId: 'p2', psnName: '张三' } }],
      }),
    ).toEqual({
      rescindFileList: ['a', 'b'],
      rescindReason: '5',
      rescindReasonNotes: '说明',
      rescissionInitiator: { psnInitiator: { psnId: 'p1' } },
      signFlowConfig: {
        signFlowExpireTime: 1800000000000,
        chargeConfig: { chargeMode: 1, orderType: 'DISTRIBUTION' },
        signConfig: { availableSignClientTypes: '2,1', psnSealStyles: '2' },
        noticeConfig: { noticeTypes: '', examineNotice: false },
        notifyUrl: 'https://n.example/cb?x=1',
      },
      autoSignOrg: [{ orgName: '某公司', sealId: 's1' }],
      orgSignerTransactor: [{ orgId: 'o2', transactorInfo: { psnId: 'p2', psnName: '张三' } }],
    });
  });
});

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe('EsignClient over real HTTP', () => {
  let server: http.Server;
  let base: string;
  let received: Received[];
  let reply: (n: number) => { status: number; body: unknown };
  let client: EsignClient;

  beforeEach(async () => {
    received = [];
    reply = () => ({ status: 200, body: { code: 0, message: '成功', data: null } });
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const { status, body } = reply(received.length - 1);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // A path prefix on the base URL (a proxy, the sandbox mount) is sent but not signed: e签宝 signs its own path.
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
    client = new EsignClient({ baseUrl: base, appId: '7438000001', appSecret: SECRET, timeoutMs: 2000, maxRetries: 2, breakerThreshold: 5, breakerResetMs: 1000 });
  });

  afterEach(async () => {
    client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Recomputes the signature a server would expect from what it received, with the test's own signer. */
  function expectSigned(r: Received, signedPath: string): void {
    const expected = signedHeaders(r.method, signedPath, r.body === '' ? undefined : r.body, {
      appId: '7438000001',
      secret: SECRET,
      timestamp: Number(r.headers['x-tsign-open-ca-timestamp']),
    });
    expect(r.headers['x-tsign-open-ca-signature']).toBe(expected['X-Tsign-Open-Ca-Signature']);
    expect(r.headers['x-tsign-open-app-id']).toBe('7438000001');
    expect(r.headers['x-tsign-open-auth-mode']).toBe('Signature');
    expect(r.headers.accept).toBe('*/*');
    expect(r.headers['content-md5']).toBe(expected['Content-MD5']);
    expect(Math.abs(Number(r.headers['x-tsign-open-ca-timestamp']) - Date.now())).toBeLessThan(5000);
  }

  it('signs exactly the path it sends, and the exact body bytes', async () => {
    reply = () => ({ status: 200, body: { code: 0, message: '成功', data: { signFlowId: 'agreement1' } } });
    const result = await client.initiateRescission({
      providerFlowId: '0f0c2112f0000004ed3aea',
      fileIds: ['f78dd1a2b3'],
      reason: 'WRONG_TERMS',
      notes: '条款有误',
      initiator: { kind: 'person', psnId: 'p1' },
      notifyUrl: 'https://api.example/callbacks/esign',
    });
    expect(result).toEqual({ rescissionFlowId: 'agreement1' });
    const [r] = received;
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/prefix/v3/sign-flow/0f0c2112f0000004ed3aea/initiate-rescission');
    expect(r.headers['content-type']).toBe('application/json; charset=UTF-8');
    expectSigned(r, '/v3/sign-flow/0f0c2112f0000004ed3aea/initiate-rescission');
    expect(JSON.parse(r.body)).toMatchObject({ rescindReason: '1', rescindReasonNotes: '条款有误', rescindFileList: ['f78dd1a2b3'] });
  });

  it('signs a GET with empty Content-MD5 and Content-Type, and reads the detail', async () => {
    reply = () => ({ status: 200, body: { code: 0, message: '成功', data: { signFlowStatus: 1, docs: [] } } });
    const found = await client.fetchFlows(['abc']);
    expect(found.get('abc')).toMatchObject({ status: 'SIGNING', providerStatus: '1' });
    const [r] = received;
    expect(r.method).toBe('GET');
    expect(r.headers['content-md5']).toBeUndefined();
    expect(r.headers['content-type']).toBeUndefined();
    expectSigned(r, '/v3/sign-flow/abc/detail');
  });

  it('leaves unknown flows out of the read-through answer', async () => {
    reply = () => ({ status: 200, body: { code: 1437104, message: '签署流程不存在', data: null } });
    expect((await client.fetchFlows(['gone'])).size).toBe(0);
  });

  it('retries the idempotent detail on a 5xx with a fresh signature, but never a rescission', async () => {
    reply = (n) => (n === 0 ? { status: 500, body: { code: 500, message: '系统异常' } } : { status: 200, body: { code: 0, message: '成功', data: { signFlowStatus: 2 } } });
    expect((await client.fetchFlows(['abc'])).get('abc')?.status).toBe('COMPLETED');
    expect(received).toHaveLength(2);
    for (const r of received) expectSigned(r, '/v3/sign-flow/abc/detail');

    received = [];
    reply = () => ({ status: 500, body: { code: 500, message: '系统异常' } });
    await expect(
      client.initiateRescission({ providerFlowId: 'abc', fileIds: ['f'], reason: 'OTHER', initiator: { kind: 'person', psnId: 'p' }, notifyUrl: 'https://n.example' }),
    ).rejects.toBeInstanceOf(ProviderServerError);
    expect(received).toHaveLength(1);
  });

  it('revokes with the reason, and checks its 50-character limit before any call', async () => {
    expect(await client.revoke({ providerFlowId: 'abc', reason: '信息有误' })).toEqual({ status: 'REVOKED', providerStatus: '3' });
    expect(JSON.parse(received[0].body)).toEqual({ revokeReason: '信息有误' });
    expectSigned(received[0], '/v3/sign-flow/abc/revoke');
    expect(client.validateRevoke({ providerFlowId: 'abc', reason: '因'.repeat(51) })).toEqual([
      { code: 'INVALID_INPUT', field: ['reason'], message: 'reason must be at most 50 characters for an e签宝 flow' },
    ]);
    expect(client.validateRevoke({ providerFlowId: 'abc', reason: '因'.repeat(50), etcMemberNo: 'm', cancelMessageFormat: 1 })).toEqual([]);
  });

  it('refuses an answer without the agreement id', async () => {
    reply = () => ({ status: 200, body: { code: 0, message: '成功', data: {} } });
    await expect(
      client.initiateRescission({ providerFlowId: 'abc', fileIds: ['f'], reason: 'OTHER', initiator: { kind: 'person', psnId: 'p' }, notifyUrl: 'https://n.example' }),
    ).rejects.toThrow('without a data.signFlowId');
  });
});
