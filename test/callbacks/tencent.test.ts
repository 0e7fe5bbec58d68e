import { createCipheriv, createHmac } from 'crypto';
import { readTencentCallback } from '../../src/callbacks/tencent';

// docs/providers/tencent.md "self vector (callback)".
const KEY = '0123456789abcdef0123456789abcdef';
const TOKEN = 'testtoken';
const ENCRYPT =
  'STziKTBEqcl+QCNrq6wcfhtk0oee2igKT4wkzW4PijM0K2fB2VqOwZedZ14P2iBM9N+nk2TQGUQvMrENrM0n26ZrnUYnH3PGy/KlMucf/xafD' +
  'u7bTdhCfmEV/6i6jG7LslrKRiVaJ5Ffxwn4vaMXcAuJp77CvnmuLR3A1nvL5yfVXwpyYyHS7/MdoDmtO0uzEnpOBryy/qdMzHKQ6beVMA==';
const BODY = Buffer.from(`{"encrypt":"${ENCRYPT}"}`, 'utf8');
const SIGNATURE = 'sha256=f684b1dc9e713a1427217a07e1ce203035296db7ccc119ef647b688080f2da25';
const SECRETS = { callbackKey: KEY, callbackToken: TOKEN };

/** Encrypts and signs like Tencent (a test helper, written apart from the receiver). */
function sealed(message: unknown, key = KEY, token = TOKEN): { body: Buffer; signature: string } {
  const k = Buffer.from(key, 'utf8');
  const cipher = createCipheriv('aes-256-cbc', k, k.subarray(0, 16));
  const encrypt = Buffer.concat([cipher.update(JSON.stringify(message), 'utf8'), cipher.final()]).toString('base64');
  const body = Buffer.from(JSON.stringify({ encrypt }), 'utf8');
  return { body, signature: `sha256=${createHmac('sha256', token).update(body).digest('hex')}` };
}

const flowChange = (data: Record<string, unknown>) => ({ MsgId: 'm1', MsgType: 'FlowStatusChange', MsgVersion: 'ThirdPartyApp', MsgData: { FlowId: 'yDwFmUUckpstqfvzUE1h3jo1f3cqjkGm', FlowCallbackStatus: 6, OccurTime: 1700000000, ...data } });

describe('readTencentCallback', () => {
  it('accepts the self vector: signature over the raw body, then AES-256-CBC with IV = the key’s first 16 bytes', () => {
    const verdict = readTencentCallback(BODY, SIGNATURE, SECRETS);
    expect(verdict).toEqual({
      ok: true,
      value: {
        kind: 'CancelFlows',
        msgId: 'yDtestMsgId0000000000000000000001',
        taskId: 'yDCVWUUckpwkjgiuUWGW8cRAzd84BVQa',
        result: null,
        plaintext: '{"MsgId":"yDtestMsgId0000000000000000000001","MsgType":"CancelFlows","MsgVersion":"ThirdPartyApp","MsgData":{"TaskId":"yDCVWUUckpwkjgiuUWGW8cRAzd84BVQa"}}',
      },
    });
  });

  it('answers the empty probe, signed or not', () => {
    expect(readTencentCallback(Buffer.from('{}'), undefined, SECRETS)).toEqual({ ok: true, value: { kind: 'probe' } });
    expect(readTencentCallback(Buffer.from(' { } '), 'sha256=00', SECRETS)).toEqual({ ok: true, value: { kind: 'probe' } });
  });

  it.each([
    ['no signature', undefined, 'Content-Signature: header missing; callbacks must be signed with TENCENT_ESS_CALLBACK_TOKEN'],
    ['a signature by another token', sealed({}, KEY, 'other').signature, 'Content-Signature: does not match sha256=HMAC-SHA256(TENCENT_ESS_CALLBACK_TOKEN, body)'],
    ['a malformed signature', 'f684b1dc', 'Content-Signature: does not match sha256=HMAC-SHA256(TENCENT_ESS_CALLBACK_TOKEN, body)'],
  ])('refuses %s with 401', (_case, header, message) => {
    expect(readTencentCallback(BODY, header, SECRETS)).toEqual({ ok: false, status: 401, message });
  });

  it('refuses a body altered after signing', () => {
    const tampered = Buffer.from(BODY.toString('utf8').replace('STzi', 'STzj'));
    expect(readTencentCallback(tampered, SIGNATURE, SECRETS)).toMatchObject({ ok: false, status: 401 });
  });

  it.each([
    ['encrypted with another key', () => sealed(flowChange({}), 'fedcba9876543210fedcba9876543210'), 'encrypt: decryption failed: bad padding or wrong key'],
    ['not base64', () => signedPlain({ encrypt: 'not base64!' }), 'encrypt: encrypt is not valid base64'],
    ['plain while a key is set', () => signedPlain(flowChange({})), 'encrypt: expected {"encrypt": "<base64>"}; TENCENT_ESS_CALLBACK_KEY is set, so plain messages are refused'],
    ['not JSON', () => signedRaw('not json'), '(body): not JSON'],
  ])('refuses a body %s with 400', (_case, make, message) => {
    const { body, signature } = make();
    expect(readTencentCallback(body, signature, SECRETS)).toEqual({ ok: false, status: 400, message });
  });

  it.each([
    [{ MsgId: '', MsgType: 'FlowStatusChange', MsgData: {} }, 'MsgId: must be a string of 1 to 128 characters'],
    [{ MsgId: 'm', MsgData: {} }, 'MsgType: must be a non-empty string'],
    [flowChange({ FlowCallbackStatus: 7 }), 'MsgData.FlowCallbackStatus: must be one of 1, 2, 3, 4, 5, 6, 8, 16, 21'],
    [flowChange({ FlowId: 'a b' }), 'MsgData.FlowId: must be a flow id of 1 to 64 letters, digits, "_", "-" or "."'],
    [flowChange({ OccurTime: 'yesterday' }), 'MsgData.OccurTime: must be Unix seconds'],
    [{ MsgId: 'm', MsgType: 'CancelFlows', MsgData: { TaskId: 't', TaskStatus: 'DONE' } }, 'MsgData.TaskStatus: must be one of PROCESSING, END, TIMEOUT'],
    [{ MsgId: 'm', MsgType: 'CancelFlows', MsgData: { TaskId: 't', TaskStatus: 'END', SuccessFlowIds: [1] } }, 'MsgData.SuccessFlowIds: must be an array of strings'],
  ])('names the field of an invalid message: %j', (message, text) => {
    const { body, signature } = sealed(message);
    expect(readTencentCallback(body, signature, SECRETS)).toEqual({ ok: false, status: 400, message: text });
  });

  it('reads FlowStatusChange and a CancelFlows result', () => {
    const change = sealed(flowChange({ FlowCallbackStatus: '8' }));
    expect(readTencentCallback(change.body, change.signature, SECRETS)).toMatchObject({
      ok: true,
      value: { kind: 'FlowStatusChange', msgId: 'm1', flowId: 'yDwFmUUckpstqfvzUE1h3jo1f3cqjkGm', status: 'INIT', occurredAt: new Date(1700000000_000) },
    });
    const result = sealed({ MsgId: 'm2', MsgType: 'CancelFlows', MsgData: { TaskId: 't', TaskStatus: 'END', SuccessFlowIds: ['a'], FailureFlows: [{ FlowId: 'b', Reason: '已签署' }] } });
    expect(readTencentCallback(result.body, result.signature, SECRETS)).toMatchObject({
      ok: true,
      value: { kind: 'CancelFlows', taskId: 't', result: { status: 'END', successFlowIds: ['a'], failureFlows: [{ flowId: 'b', reason: '已签署' }] } },
    });
  });

  it('takes plain JSON when neither secret is configured, and refuses an encrypted body it cannot open', () => {
    expect(readTencentCallback(Buffer.from(JSON.stringify(flowChange({}))), undefined, {})).toMatchObject({ ok: true, value: { kind: 'FlowStatusChange' } });
    expect(readTencentCallback(BODY, undefined, {})).toEqual({ ok: false, status: 400, message: 'encrypt: the body is encrypted but TENCENT_ESS_CALLBACK_KEY is not set' });
  });
});

function signedRaw(text: string): { body: Buffer; signature: string } {
  const body = Buffer.from(text, 'utf8');
  return { body, signature: `sha256=${createHmac('sha256', TOKEN).update(body).digest('hex')}` };
}

function signedPlain(value: unknown): { body: Buffer; signature: string } {
  return signedRaw(JSON.stringify(value));
}
