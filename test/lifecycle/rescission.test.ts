import { validateRescissionInput, type InitiateRescissionInput } from '../../src/lifecycle/rescission';

const NOW = new Date('2026-01-01T00:00:00Z');
const base: InitiateRescissionInput = { signFlowId: 'ESIGN:f1', fileIds: ['a'], reason: 'OTHER', initiator: { person: { psnId: 'p1' } } };
const check = (change: Partial<InitiateRescissionInput>) => validateRescissionInput({ ...base, ...change }, NOW);

describe('validateRescissionInput', () => {
  it('accepts a minimal and a full input', () => {
    expect(check({})).toEqual([]);
    expect(
      check({
        fileIds: Array.from({ length: 10 }, (_, i) => `f${i}`),
        notes: '因'.repeat(200),
        initiator: { organization: { orgId: 'o1', transactorPsnId: 'p1' } },
        notifyUrl: 'https://hooks.example.com/x?y=1',
        signFlowConfig: { expireTime: new Date('2026-02-01T00:00:00Z'), charge: { mode: 'INITIATOR_ORGANIZATION' }, notice: { noticeTypes: [] } },
        autoSignOrg: [{ orgId: 'o1', sealId: 's1' }],
        orgSignerTransactor: [{ orgName: 'Other Ltd', transactorInfo: { psnAccount: '15300000000' } }],
      }),
    ).toEqual([]);
  });

  it.each([
    [{ fileIds: ['a', 'a'] }, ['input', 'fileIds'], 'fileIds names a twice'],
    [{ fileIds: ['a', ' '] }, ['input', 'fileIds', '1'], 'a file id must not be empty'],
    [{ initiator: { person: { psnId: '' } } }, ['input', 'initiator', 'person', 'psnId'], 'psnId must not be empty'],
    [{ initiator: { organization: { orgId: 'o', transactorPsnId: ' ' } } }, ['input', 'initiator', 'organization', 'transactorPsnId'], 'transactorPsnId must not be empty'],
    [{ autoSignOrg: [{ orgId: 'o', orgName: 'O', sealId: 's' }] }, ['input', 'autoSignOrg', '0'], 'give exactly one of orgId or orgName'],
    [{ autoSignOrg: [{ orgId: 'o', sealId: '' }] }, ['input', 'autoSignOrg', '0', 'sealId'], 'sealId must not be empty: automatic signing needs the organisation seal'],
    [
      { orgSignerTransactor: [{ orgId: 'o', transactorInfo: { psnAccount: 'x' } }] },
      ['input', 'orgSignerTransactor', '0', 'transactorInfo', 'psnId'],
      'psnId is required when the organisation is given by orgId',
    ],
    [
      { orgSignerTransactor: [{ orgName: 'O', transactorInfo: { psnId: 'x' } }] },
      ['input', 'orgSignerTransactor', '0', 'transactorInfo', 'psnAccount'],
      'psnAccount is required when the organisation is given by orgName',
    ],
    [
      { autoSignOrg: [{ orgName: 'O', sealId: 's' }], orgSignerTransactor: [{ orgName: 'O', transactorInfo: { psnAccount: 'x' } }] },
      ['input', 'orgSignerTransactor', '0'],
      'orgName O is in autoSignOrg too: an organisation signs either automatically or through a transactor, not both',
    ],
    [{ signFlowConfig: { sign: { availableSignClientTypes: [] } } }, ['input', 'signFlowConfig', 'sign', 'availableSignClientTypes'], 'availableSignClientTypes must list at least one client type, or be left out'],
    [{ signFlowConfig: { expireTime: NOW } }, ['input', 'signFlowConfig', 'expireTime'], 'expireTime must be in the future'],
  ] as Array<[Partial<InitiateRescissionInput>, string[], string]>)('refuses %j at %j', (change, field, message) => {
    expect(check(change)).toEqual([{ code: 'INVALID_INPUT', field, message }]);
  });

  it('reports every problem at once', () => {
    expect(check({ signFlowId: 'TENCENT_ESS:x', fileIds: [], notes: '因'.repeat(201), initiator: {} }).map((e) => e.field)).toEqual([
      ['input', 'signFlowId'],
      ['input', 'fileIds'],
      ['input', 'notes'],
      ['input', 'initiator'],
    ]);
  });
});
