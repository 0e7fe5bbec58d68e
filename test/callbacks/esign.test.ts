import { createHmac } from 'crypto';
import { authenticateEsignCallback, callbackQuery, ESIGN_CALLBACK_MAX_AGE_MS, parseEsignCallback } from '../../src/callbacks/esign';

const SECRET = 'testAppSecret0123456789';
const NOW = 1_700_000_000_000;

function signed(body: string, timestamp: number, queryValues = ''): Record<string, string> {
  return {
    'x-tsign-open-app-id': '7438000001',
    'x-tsign-open-signature-algorithm': 'hmac-sha256',
    'x-tsign-open-timestamp': String(timestamp),
    'x-tsign-open-signature': createHmac('sha256', SECRET).update(`${timestamp}${queryValues}${body}`, 'utf8').digest('hex'),
  };
}

const auth = (body: string, headers: Record<string, string>, query: Record<string, string | string[]> = {}, now = NOW) =>
  authenticateEsignCallback({ rawBody: Buffer.from(body, 'utf8'), headers, query, appId: '7438000001', appSecret: SECRET, now });

describe('authenticateEsignCallback', () => {
  const body = '{"action":"SIGN_FLOW_COMPLETE","timestamp":1699990000000,"signFlowId":"f1","signFlowStatus":"2"}';

  it('accepts the signature over timestamp + sorted query values + raw body', () => {
    expect(auth(body, signed(body, NOW - 1000, 'x2t1'), { tenant: 't1', b: 'x2' })).toEqual({ ok: true });
  });

  it('accepts a retry whose header timestamp is hours old, within the retry horizon, and nothing older', () => {
    expect(auth(body, signed(body, NOW - 30 * 3600_000))).toEqual({ ok: true });
    expect(auth(body, signed(body, NOW - ESIGN_CALLBACK_MAX_AGE_MS - 1))).toEqual({ ok: false, reason: 'timestamp outside tolerance' });
    expect(auth(body, signed(body, NOW + 16 * 60_000))).toEqual({ ok: false, reason: 'timestamp outside tolerance' });
  });

  it.each([
    ['another algorithm', { 'x-tsign-open-signature-algorithm': 'hmac-sha1' }, 'unsupported signature algorithm hmac-sha1'],
    ['another application', { 'x-tsign-open-app-id': '1' }, 'X-Tsign-Open-App-Id is not this application'],
    ['a changed body', {}, 'signature mismatch'],
  ])('refuses %s', (_case, change, reason) => {
    const headers = { ...signed(body, NOW), ...change };
    const sent = _case === 'a changed body' ? body.replace('"2"', '"3"') : body;
    expect(auth(sent, headers)).toEqual({ ok: false, reason });
  });
});

describe('callbackQuery', () => {
  it('decodes the query of the URL posted to, keeping repeats in order', () => {
    expect(callbackQuery('/callbacks/esign?tenant=t%201&a=1&a=2')).toEqual({ tenant: 't 1', a: ['1', '2'] });
    expect(callbackQuery('/callbacks/esign')).toEqual({});
  });
});

describe('parseEsignCallback', () => {
  it('reads SIGN_FLOW_COMPLETE with its string status, and an integer one too', () => {
    const base = { action: 'SIGN_FLOW_COMPLETE', timestamp: 1, signFlowId: 'f1', signFlowFinishTime: 1700000000000 };
    expect(parseEsignCallback(JSON.stringify({ ...base, signFlowStatus: '7' }))).toEqual({
      ok: true,
      value: { action: 'SIGN_FLOW_COMPLETE', timestamp: 1, signFlowId: 'f1', signFlowStatus: '7', finishTime: new Date(1700000000000) },
    });
    expect(parseEsignCallback(JSON.stringify({ ...base, signFlowStatus: 5 }))).toMatchObject({ ok: true, value: { signFlowStatus: '5' } });
  });

  it('reads the rescission actions', () => {
    const initiate = { action: 'SIGN_FILE_RESCISSION_INITIATE', timestamp: 2, signFlowId: 'f1', rescissionSignFlowId: 'r1', rescissionFileIds: ['a'], rescindReason: '4' };
    expect(parseEsignCallback(JSON.stringify(initiate))).toEqual({
      ok: true,
      value: { ...initiate, rescindReason: 'COOPERATION_ENDED', rescindReasonNotes: null },
    });
    expect(parseEsignCallback(JSON.stringify({ ...initiate, action: 'SIGN_FILE_RESCINDED' }))).toEqual({
      ok: true,
      value: { action: 'SIGN_FILE_RESCINDED', timestamp: 2, signFlowId: 'f1', rescissionSignFlowId: 'r1', rescissionFileIds: ['a'] },
    });
  });

  it('passes other actions through as ignored', () => {
    expect(parseEsignCallback('{"action":"OPERATOR_READ"}')).toEqual({ ok: true, value: { action: 'IGNORED', name: 'OPERATOR_READ' } });
  });

  it.each([
    ['[]', '(body)', 'body must be a JSON object'],
    ['{}', 'action', 'action must be a non-empty string'],
    ['{"action":"SIGN_FILE_RESCINDED","timestamp":1,"signFlowId":"f1"}', 'rescissionSignFlowId', 'rescissionSignFlowId must be a string'],
    [
      '{"action":"SIGN_FILE_RESCISSION_INITIATE","timestamp":1,"signFlowId":"f1","rescissionSignFlowId":"r1","rescissionFileIds":["a"],"rescindReason":"9"}',
      'rescindReason',
      'rescindReason must be one of "1" to "5"',
    ],
    ['{"action":"SIGN_FLOW_COMPLETE","timestamp":1,"signFlowId":"f1","signFlowStatus":"2","signFlowFinishTime":"soon"}', 'signFlowFinishTime', 'signFlowFinishTime must be milliseconds since the epoch'],
  ])('refuses %s naming %s', (raw, field, message) => {
    expect(parseEsignCallback(raw)).toEqual({ ok: false, field, message });
  });
});
