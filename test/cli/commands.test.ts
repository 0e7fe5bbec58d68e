import { describeUserErrors, requestKey, serverCap } from '../../src/cli/commands/cancel';
import { checkAfter, formatEvent, reconnectDelayMs } from '../../src/cli/commands/events';
import { formatFlow } from '../../src/cli/commands/flow';
import { collectIds } from '../../src/cli/main';

describe('cancel helpers', () => {
  it('reads the server cap from its refusal of too many ids, and nothing else', () => {
    const tooMany = { code: 'INVALID_INPUT', field: ['input', 'ids'], message: 'ids may name at most 500 flows per request, got 1000; split the list' };
    expect(serverCap([tooMany])).toBe(500);
    expect(serverCap([{ ...tooMany, field: ['input', 'reason'] }])).toBeUndefined();
    expect(serverCap([{ code: 'INVALID_INPUT', field: ['input', 'ids'], message: 'ids must name at least one flow' }])).toBeUndefined();
    expect(serverCap([{ ...tooMany, code: 'INVALID_ID' }])).toBeUndefined();
  });

  it("keeps the operator's idempotency key for one request and numbers it for several", () => {
    expect(requestKey(undefined, 0, 3)).toBeUndefined();
    expect(requestKey('run-7', 0, 1)).toBe('run-7');
    expect([0, 1, 2].map((i) => requestKey('run-7', i, 3))).toEqual(['run-7.1', 'run-7.2', 'run-7.3']);
  });

  it('points an error about one id at its line in the file', () => {
    const entries = [
      { id: 'ETC:a', line: 4 },
      { id: 'ETC:b', line: 9 },
    ];
    expect(
      describeUserErrors(
        [
          { code: 'INVALID_ID', field: ['input', 'ids', '1'], message: 'ids[1] must be …' },
          { code: 'INVALID_INPUT', field: ['input', 'reason'], message: 'reason must be at most 64 characters for an ETC flow' },
          { code: 'IDEMPOTENCY_KEY_REUSED', field: null, message: 'used for other input' },
        ],
        entries,
      ),
    ).toBe(
      'INVALID_ID: line 9: ids[1] must be …\nINVALID_INPUT (input.reason): reason must be at most 64 characters for an ETC flow\nIDEMPOTENCY_KEY_REUSED: used for other input',
    );
  });
});

describe('events helpers', () => {
  it('accepts only an event id as --after', () => {
    expect(checkAfter(undefined)).toBeUndefined();
    expect(checkAfter('0')).toBe('0');
    expect(checkAfter('123')).toBe('123');
    expect(() => checkAfter('abc')).toThrow('--after must be an event id (digits) printed by an earlier run, got "abc"');
    expect(() => checkAfter('1234567890123456')).toThrow(/--after must be an event id/);
  });

  it('prints an event as one line with its cursor first', () => {
    const event = { id: '42', status: 'REVOKED', providerStatus: 'CANCEL', source: 'MUTATION', occurredAt: null, receivedAt: '2026-11-02T03:04:05.000Z', flow: { id: 'TENCENT_ESS:yDw1' } };
    expect(formatEvent(event)).toBe('42  2026-11-02T03:04:05.000Z  TENCENT_ESS:yDw1  REVOKED (CANCEL)  MUTATION');
    expect(formatEvent({ ...event, providerStatus: null })).toBe('42  2026-11-02T03:04:05.000Z  TENCENT_ESS:yDw1  REVOKED  MUTATION');
  });

  it('collects --ids from commas and repeats, refusing a malformed id', () => {
    expect(collectIds('ETC:a, TENCENT_ESS:b,', undefined)).toEqual(['ETC:a', 'TENCENT_ESS:b']);
    expect(collectIds('ESIGN:c', ['ETC:a'])).toEqual(['ETC:a', 'ESIGN:c']);
    expect(() => collectIds('ETC:a,nope', undefined)).toThrow('"nope" is not <SignProvider>:<provider flow id>.');
  });

  it('backs off from a quarter second to ten seconds', () => {
    expect([0, 1, 2, 3, 5, 6, 20].map(reconnectDelayMs)).toEqual([250, 500, 1000, 2000, 8000, 10_000, 10_000]);
  });
});

describe('flow output', () => {
  it('shows status, provider status, times and the latest events', () => {
    const flow = {
      id: 'ETC:c1',
      provider: 'ETC',
      providerFlowId: 'c1',
      status: 'SIGNING',
      providerStatus: '1',
      fileUrl: null,
      endedAt: null,
      updatedAt: '2026-11-02T03:04:05.000Z',
      events: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } },
    };
    const events = [{ id: '7', status: 'SIGNING', providerStatus: '1', source: 'CALLBACK', occurredAt: null, receivedAt: '2026-11-02T03:04:05.000Z' }];
    expect(formatFlow(flow, events, 3)).toBe(
      [
        'ETC:c1',
        '  status          SIGNING',
        '  providerStatus  1',
        '  updatedAt       2026-11-02T03:04:05.000Z',
        '  endedAt         —',
        '  events (last 1 of 3):',
        '    7  2026-11-02T03:04:05.000Z  SIGNING (1)  CALLBACK',
        '',
      ].join('\n'),
    );
    expect(formatFlow(flow, [], 0)).toContain('  events: none\n');
  });
});
