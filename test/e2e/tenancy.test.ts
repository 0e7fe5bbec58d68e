import { Writable } from 'node:stream';
import { createLogger } from '../../src/logger';
import { collect, startTestApp, waitFor, type TestApp } from '../support/app';
import { ALL_SCOPES, hs256, TEST_JWT_SECRET } from '../support/tokens';

/**
 * Tenancy, acting parties, per-caller idempotency keys and the audit log (docs/security.md), over HTTP, WebSocket and
 * `_entities`, for every record type: flows, cancel tasks, rescissions and auto-debit authorizations.
 */
const MEMBER = '40eb61714d9e49088bac7a3c56d69d66';
const FLOW = 'query($id: ID!) { signFlow(id: $id) { id status rescissions { id } } }';
const FLOWS = '{ signFlows(first: 100) { edges { node { id } } } }';
const REVOKE = 'mutation($input: RevokeSignFlowInput!) { revokeSignFlow(input: $input) { signFlow { id status } userErrors { code message } } }';
const CANCEL =
  'mutation($input: CancelSignFlowsInput!) { cancelSignFlows(input: $input) { task { id state items { flow { id } ok code } } userErrors { code message } } }';
const TASK = 'query($id: ID!) { cancelTask(id: $id) { id state } }';
const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) {
  ... on SignFlow { id } ... on CancelTask { id } ... on Rescission { id } ... on AutoDebit { id } } }`;
const RESCIND = 'mutation($input: InitiateRescissionInput!) { initiateRescission(input: $input) { rescission { id status } userErrors { code message } } }';
const START_AUTO_DEBIT =
  'mutation($input: StartAutoDebitInput!) { startAutoDebit(input: $input) { autoDebit { id status } userErrors { code message } } }';
const REVOKE_AUTO_DEBIT = 'mutation($input: RevokeAutoDebitInput!) { revokeAutoDebit(input: $input) { autoDebit { id status } userErrors { code message } } }';
const AUTO_DEBIT = 'query($id: ID!) { autoDebit(id: $id) { id status } }';

type Errors = Array<{ message: string; extensions?: Record<string, unknown> }> | undefined;
const codes = (errors: Errors) => (errors ?? []).map((e) => e.extensions?.code);

describe('tenancy, acting parties, idempotency and audit', () => {
  let app: TestApp;
  const logLines: Array<Record<string, unknown>> = [];
  let acme: string;
  let globex: string;
  let tenantless: string;
  let admin: string;

  beforeAll(async () => {
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    app = await startTestApp({ env: { AUTH_JWT_SECRET: TEST_JWT_SECRET }, logger: createLogger({ level: 'info', destination }) });
    acme = await hs256({ sub: 'alice', tenant: 'acme', claims: { etc_member_no: MEMBER }, issuer: null, audience: null });
    globex = await hs256({ sub: 'bob', tenant: 'globex', claims: { etc_member_no: MEMBER }, issuer: null, audience: null });
    tenantless = await hs256({ sub: 'carol', claims: { etc_member_no: MEMBER }, issuer: null, audience: null });
    admin = await hs256({ sub: 'root', scope: [...ALL_SCOPES, 'admin'], issuer: null, audience: null });
  });
  afterAll(async () => {
    await app?.close();
  });

  const etcFlow = async (status = 'SIGNING') => (await app.admin<{ flowId: string }>('/etc/flows', { status })).flowId;
  const read = async (token: string, id: string) => (await app.gql<{ signFlow: { id: string } | null }>(FLOW, { id }, { token })).data?.signFlow ?? null;
  const listed = async (token: string) => (await app.gql<{ signFlows: { edges: Array<{ node: { id: string } }> } }>(FLOWS, {}, { token })).data!.signFlows.edges.map((e) => e.node.id);
  const etcRequests = async (apiCode: string) =>
    (await app.admin<{ requests: Array<{ operation?: string; body: { params?: Record<string, unknown> } }> }>('/etc/requests')).requests.filter((r) => r.operation === apiCode);

  describe('flows', () => {
    it('a flow read through by a tenant is that tenant’s: others read it as absent and cannot act on it', async () => {
      const id = `ETC:${await etcFlow()}`;
      expect(await read(acme, id)).toMatchObject({ id });
      expect(await read(globex, id)).toBeNull();
      expect(await read(tenantless, id)).toBeNull();
      expect(await read(admin, id)).toMatchObject({ id });
      expect(await listed(acme)).toContain(id);
      expect(await listed(globex)).not.toContain(id);
      expect(await listed(admin)).toContain(id);

      const revokesBefore = (await etcRequests('esign.signflows.revoke')).length;
      const refused = await app.gql(REVOKE, { input: { id } }, { token: globex });
      expect(codes(refused.errors)).toEqual(['FORBIDDEN']);
      expect(refused.errors?.[0]?.message).toMatch(/another tenant/);
      const cancel = await app.gql<{ cancelSignFlows: { task: { items: Array<{ ok: boolean; code: string }> } } }>(CANCEL, { input: { ids: [id] } }, { token: globex });
      expect(cancel.data?.cancelSignFlows.task.items).toEqual([{ flow: { id }, ok: false, code: 'FORBIDDEN' }]);
      expect((await etcRequests('esign.signflows.revoke')).length).toBe(revokesBefore);
      expect(await read(acme, id)).toMatchObject({ id, status: 'SIGNING' });

      const entities = await app.gql<{ _entities: unknown[] }>(ENTITIES, { r: [{ __typename: 'SignFlow', id }] }, { token: globex });
      expect(entities.data?._entities).toEqual([null]);
    });

    it('a callback-only flow is seen by admin and tenantless callers, and becomes the first acting tenant’s', async () => {
      const flowId = await etcFlow();
      const id = `ETC:${flowId}`;
      await app.admin(`/etc/flows/${flowId}/transition`, { status: 'COMPLETED' });
      await waitFor(async () => (await app.services.store.flows.get(id))?.status === 'COMPLETED', { what: 'the callback' });
      expect((await app.services.store.flows.get(id))?.tenant).toBeNull();
      expect(await read(acme, id)).toBeNull();
      expect(await read(tenantless, id)).toMatchObject({ id });
      expect(await read(admin, id)).toMatchObject({ id });

      // Acting on it claims it (the revoke itself is refused: the flow is finished).
      const claimed = await app.gql<{ revokeSignFlow: { userErrors: Array<{ code: string }> } }>(REVOKE, { input: { id } }, { token: acme });
      expect(claimed.data?.revokeSignFlow.userErrors.map((e) => e.code)).toEqual(['FLOW_NOT_REVOCABLE']);
      expect(await read(acme, id)).toMatchObject({ id });
      expect(await read(tenantless, id)).toBeNull();
      expect(codes((await app.gql(REVOKE, { input: { id } }, { token: globex })).errors)).toEqual(['FORBIDDEN']);
      // Its past events moved with it.
      const events = await app.gql<{ signFlow: { events: { edges: unknown[] } } }>('query($id: ID!) { signFlow(id: $id) { events { edges { node { status } } } } }', { id }, { token: acme });
      expect(events.data?.signFlow.events.edges).toHaveLength(1);
    });

    it('two tenants racing to claim the same flow: exactly one gets it', async () => {
      const flowId = await etcFlow();
      const id = `ETC:${flowId}`;
      await app.admin(`/etc/flows/${flowId}/transition`, { status: 'EXPIRED' });
      await waitFor(async () => (await app.services.store.flows.get(id))?.status === 'EXPIRED', { what: 'the callback' });
      const results = await Promise.all([acme, globex].map((token) => app.gql(REVOKE, { input: { id } }, { token })));
      const forbidden = results.filter((r) => codes(r.errors).includes('FORBIDDEN'));
      expect(forbidden).toHaveLength(1);
      expect(['acme', 'globex']).toContain((await app.services.store.flows.get(id))?.tenant);
    });
  });

  describe('cancel tasks', () => {
    it('are their starter’s tenant’s, over queries, _entities and cancelTaskProgress', async () => {
      const id = `ETC:${await etcFlow()}`;
      await read(acme, id);
      const started = await app.gql<{ cancelSignFlows: { task: { id: string } } }>(CANCEL, { input: { ids: [id] } }, { token: acme });
      const taskId = started.data!.cancelSignFlows.task.id;
      expect((await app.gql(TASK, { id: taskId }, { token: acme })).data?.cancelTask).toMatchObject({ id: taskId });
      expect((await app.gql(TASK, { id: taskId }, { token: globex })).data?.cancelTask).toBeNull();
      expect((await app.gql(TASK, { id: taskId }, { token: admin })).data?.cancelTask).toMatchObject({ id: taskId });
      expect((await app.gql(ENTITIES, { r: [{ __typename: 'CancelTask', id: taskId }] }, { token: globex })).data?._entities).toEqual([null]);

      const foreign = collect(app.ws({ token: globex }), 'subscription($id: ID!) { cancelTaskProgress(id: $id) { id state } }', { id: taskId });
      await foreign.done;
      expect(foreign.items).toEqual([]);
      expect(JSON.stringify(foreign.errors)).toMatch(/no cancel task/);
      const own = collect<{ cancelTaskProgress: { state: string } }>(app.ws({ token: acme }), 'subscription($id: ID!) { cancelTaskProgress(id: $id) { id state } }', { id: taskId });
      await own.done;
      expect(own.items.at(-1)?.cancelTaskProgress.state).toBe('SUCCEEDED');
    });

    it('act as the caller who started them (Tencent’s Agent from the token), also in the background run', async () => {
      const agentToken = await hs256({ sub: 'dora', tenant: 'acme', claims: { tencent_org_open_id: 'org_acme', tencent_operator_open_id: 'op_dora' }, issuer: null, audience: null });
      const flows = await Promise.all([1, 2, 3].map(async () => `TENCENT_ESS:${(await app.admin<{ flowId: string }>('/tencent/flows', { status: 'SIGNING' })).flowId}`));
      const started = await app.gql<{ cancelSignFlows: { task: { id: string } } }>(CANCEL, { input: { ids: flows } }, { token: agentToken });
      const taskId = started.data!.cancelSignFlows.task.id;
      await waitFor(async () => (await app.services.store.cancelTasks.get(taskId))?.state === 'SUCCEEDED', { what: 'the task' });
      const log = await app.admin<{ requests: Array<{ operation?: string; body: { Agent?: { ProxyOrganizationOpenId: string; ProxyOperator: { OpenId: string } } } }> }>('/tencent/requests');
      const batch = log.requests.filter((r) => r.operation === 'ChannelBatchCancelFlows').at(-1);
      expect(batch?.body.Agent).toMatchObject({ ProxyOrganizationOpenId: 'org_acme', ProxyOperator: { OpenId: 'op_dora' } });
      const events = await app.gql<{ signFlow: { events: { edges: Array<{ node: { status: string; actor: string | null } }> } } }>(
        'query($id: ID!) { signFlow(id: $id) { events { edges { node { status actor } } } } }',
        { id: flows[0] },
        { token: agentToken },
      );
      expect(events.data?.signFlow.events.edges.map((e) => e.node)).toContainEqual({ status: 'REVOKED', actor: 'dora' });
    });
  });

  describe('rescissions', () => {
    it('belong to the flow’s tenant, and the initiator must be the token’s party', async () => {
      const { flowId } = await app.admin<{ flowId: string }>('/esign/flows', { status: 'COMPLETED', signers: 2, fileIds: ['fileA'] });
      const view = await app.admin<{ signers: Array<{ kind: string; psnId?: string }> }>(`/esign/flows/${flowId}`);
      const psnId = view.signers.find((s) => s.kind === 'person')!.psnId!;
      const id = `ESIGN:${flowId}`;
      const signer = await hs256({ sub: 'erin', tenant: 'acme', claims: { esign_psn_id: psnId }, issuer: null, audience: null });
      const input = { signFlowId: id, fileIds: ['fileA'], reason: 'OTHER', initiator: { person: { psnId } } };

      const impostor = await hs256({ sub: 'mallory', tenant: 'acme', claims: { esign_psn_id: 'someone-else' }, issuer: null, audience: null });
      const refused = await app.gql(RESCIND, { input }, { token: impostor });
      expect(codes(refused.errors)).toEqual(['FORBIDDEN']);
      expect(refused.errors?.[0]?.message).toMatch(/esign_psn_id/);
      const noClaim = await app.gql(RESCIND, { input }, { token: acme });
      expect(codes(noClaim.errors)).toEqual(['FORBIDDEN']);

      const done = await app.gql<{ initiateRescission: { rescission: { id: string } } }>(RESCIND, { input }, { token: signer });
      const rescissionId = done.data!.initiateRescission.rescission.id;
      const q = 'query($id: ID!) { rescission(id: $id) { id status } }';
      expect((await app.gql(q, { id: rescissionId }, { token: acme })).data?.rescission).toMatchObject({ id: rescissionId });
      expect((await app.gql(q, { id: rescissionId }, { token: globex })).data?.rescission).toBeNull();
      expect((await app.gql(ENTITIES, { r: [{ __typename: 'Rescission', id: rescissionId }] }, { token: globex })).data?._entities).toEqual([null]);
      expect((await app.gql<{ signFlow: { rescissions: unknown[] } }>(FLOW, { id }, { token: admin })).data?.signFlow.rescissions).toEqual([{ id: rescissionId }]);
    });
  });

  describe('auto-debit authorizations', () => {
    it('are their starter’s tenant’s; an IPN-only one is claimed by the first tenant acting on it', async () => {
      const merchant = await hs256({ sub: 'frank', tenant: 'acme', claims: { yuansfer_merchant_no: '200043', yuansfer_store_no: '300014' }, issuer: null, audience: null });
      const base = { vendor: 'alipay', terminal: 'ONLINE', redirectUrl: 'http://127.0.0.1:9/back' };
      const wrongStore = await app.gql(START_AUTO_DEBIT, { input: { ...base, storeNo: '999999' } }, { token: merchant });
      expect(codes(wrongStore.errors)).toEqual(['FORBIDDEN']);
      const started = await app.gql<{ startAutoDebit: { autoDebit: { id: string } } }>(START_AUTO_DEBIT, { input: base }, { token: merchant });
      const id = started.data!.startAutoDebit.autoDebit.id;
      expect((await app.gql(AUTO_DEBIT, { id }, { token: acme })).data?.autoDebit).toMatchObject({ id });
      expect((await app.gql(AUTO_DEBIT, { id }, { token: globex })).data?.autoDebit).toBeNull();
      expect((await app.gql(ENTITIES, { r: [{ __typename: 'AutoDebit', id }] }, { token: globex })).data?._entities).toEqual([null]);
      expect(codes((await app.gql(REVOKE_AUTO_DEBIT, { input: { autoDebitNo: id.slice('YUANSFER:'.length) } }, { token: globex })).errors)).toEqual(['FORBIDDEN']);

      const { autoDebitNo } = await app.admin<{ autoDebitNo: string }>('/yuansfer/auto-debits', { notify: true });
      const ipnOnly = `YUANSFER:${autoDebitNo}`;
      await waitFor(async () => (await app.services.store.autoDebits.get(ipnOnly))?.status === 'ACTIVE', { what: 'the IPN' });
      expect((await app.gql(AUTO_DEBIT, { id: ipnOnly }, { token: acme })).data?.autoDebit).toBeNull();
      const revoked = await app.gql<{ revokeAutoDebit: { autoDebit: { status: string } } }>(REVOKE_AUTO_DEBIT, { input: { autoDebitNo } }, { token: merchant });
      expect(revoked.data?.revokeAutoDebit.autoDebit).toMatchObject({ status: 'REVOKED' });
      expect((await app.gql(AUTO_DEBIT, { id: ipnOnly }, { token: acme })).data?.autoDebit).toMatchObject({ status: 'REVOKED' });
      expect((await app.gql(AUTO_DEBIT, { id: ipnOnly }, { token: globex })).data?.autoDebit).toBeNull();
    });
  });

  describe('subscriptions', () => {
    it('deliver each tenant only its own events, live and on replay', async () => {
      const mine = `ETC:${await etcFlow()}`;
      const theirs = `ETC:${await etcFlow()}`;
      await read(acme, mine);
      await read(globex, theirs);
      const events = 'subscription($after: String) { signFlowEvents(after: $after) { id status flow { id } } }';
      const acmeLive = collect<{ signFlowEvents: { flow: { id: string } } }>(app.ws({ token: acme }), events);
      const globexLive = collect<{ signFlowEvents: { flow: { id: string } } }>(app.ws({ token: globex }), events);
      await waitFor(() => app.services.feed.subscriberCount >= 2, { what: 'both subscriptions' });
      await app.admin(`/etc/flows/${mine.slice(4)}/transition`, { status: 'COMPLETED' });
      await app.admin(`/etc/flows/${theirs.slice(4)}/transition`, { status: 'REJECTED' });
      await waitFor(() => acmeLive.items.some((e) => e.signFlowEvents.flow.id === mine) && globexLive.items.some((e) => e.signFlowEvents.flow.id === theirs), {
        what: 'both events',
      });
      // Both callbacks are stored; give the feed a moment to have delivered any wrong one before asserting none came.
      await waitFor(async () => (await app.services.store.flows.get(theirs))?.status === 'REJECTED', { what: 'the second callback' });
      const last = await app.services.store.events.latestId();
      await waitFor(() => app.services.feed.position >= last, { what: 'the feed to dispatch' });
      expect(acmeLive.items.map((e) => e.signFlowEvents.flow.id)).not.toContain(theirs);
      expect(globexLive.items.map((e) => e.signFlowEvents.flow.id)).not.toContain(mine);
      // Not even as an error: an event of another tenant's flow never reaches the subscription.
      expect(acmeLive.errors).toEqual([]);
      expect(globexLive.errors).toEqual([]);
      acmeLive.stop();
      globexLive.stop();

      const replay = collect<{ signFlowEvents: { flow: { id: string } } }>(app.ws({ token: globex }), events, { after: '0' });
      await waitFor(() => replay.items.some((e) => e.signFlowEvents.flow.id === theirs), { what: 'the replay' });
      replay.stop();
      const owners = await Promise.all(replay.items.map(async (e) => (await app.services.store.flows.get(e.signFlowEvents.flow.id))?.tenant));
      expect(new Set(owners)).toEqual(new Set(['globex']));

      // acme's authorizations (the suite above made some), beside one nobody owns.
      const { autoDebitNo } = await app.admin<{ autoDebitNo: string }>('/yuansfer/auto-debits', { notify: true });
      await waitFor(async () => (await app.services.store.autoDebits.get(`YUANSFER:${autoDebitNo}`))?.status === 'ACTIVE', { what: 'the IPN' });
      const total = (await app.services.store.events.listAfter(0, { kinds: ['autodebit'] }, 1000)).length;
      const own = (await app.services.store.events.listAfter(0, { kinds: ['autodebit'], tenant: { tenant: 'acme' } }, 1000)).length;
      expect(own).toBeGreaterThan(0);
      expect(own).toBeLessThan(total);
      const autoDebits = collect<{ autoDebitEvents: { autoDebit: { id: string } } }>(app.ws({ token: acme }), 'subscription { autoDebitEvents(after: "0") { id autoDebit { id } } }');
      await waitFor(() => autoDebits.items.length >= own, { what: 'the replay of acme’s authorization events' });
      autoDebits.stop();
      const adOwners = await Promise.all(autoDebits.items.map(async (e) => (await app.services.store.autoDebits.get(e.autoDebitEvents.autoDebit.id))?.tenant));
      expect(autoDebits.items).toHaveLength(own);
      expect(new Set(adOwners)).toEqual(new Set(['acme']));
    });
  });

  describe('idempotency keys', () => {
    it('are per caller: another caller’s use of the same key never replays, blocks or reveals the first result', async () => {
      const a = `ETC:${await etcFlow()}`;
      const b = `ETC:${await etcFlow()}`;
      await read(acme, a);
      await read(globex, b);
      const key = 'shared-key-1';
      const first = await app.gql<{ revokeSignFlow: { signFlow: { id: string } } }>(REVOKE, { input: { id: a, idempotencyKey: key } }, { token: acme });
      expect(first.data?.revokeSignFlow.signFlow).toMatchObject({ id: a, status: 'REVOKED' });
      // The same key and the same input from another caller is not a replay of the first caller's result.
      const sameInput = await app.gql(REVOKE, { input: { id: a, idempotencyKey: key } }, { token: globex });
      expect(codes(sameInput.errors)).toEqual(['FORBIDDEN']);
      expect(JSON.stringify(sameInput)).not.toContain('"REVOKED"');
      // Nor is the key taken for it: it runs its own operation.
      const other = await app.gql<{ revokeSignFlow: { signFlow: { id: string }; userErrors: unknown[] } }>(REVOKE, { input: { id: b, idempotencyKey: key } }, { token: globex });
      expect(other.data?.revokeSignFlow).toMatchObject({ signFlow: { id: b, status: 'REVOKED' }, userErrors: [] });
      // The first caller still replays its own result.
      const replay = await app.gql<{ revokeSignFlow: { signFlow: { id: string } } }>(REVOKE, { input: { id: a, idempotencyKey: key } }, { token: acme });
      expect(replay.data?.revokeSignFlow.signFlow).toMatchObject({ id: a });
    });
  });

  describe('acting party', () => {
    it('takes ETC’s member from the token, refuses another in the input, and refuses a token without one', async () => {
      const id = `ETC:${await etcFlow()}`;
      await read(acme, id);
      const other = await app.gql(REVOKE, { input: { id, etcMemberNo: 'someone-else' } }, { token: acme });
      expect(codes(other.errors)).toEqual(['FORBIDDEN']);
      const memberless = await hs256({ sub: 'gina', tenant: 'acme', issuer: null, audience: null });
      const none = await app.gql(REVOKE, { input: { id, etcMemberNo: MEMBER } }, { token: memberless });
      expect(codes(none.errors)).toEqual(['FORBIDDEN']);
      expect(none.errors?.[0]?.message).toMatch(/etc_member_no/);
      const ok = await app.gql<{ revokeSignFlow: { signFlow: { status: string } } }>(REVOKE, { input: { id } }, { token: acme });
      expect(ok.data?.revokeSignFlow.signFlow.status).toBe('REVOKED');
      const sent = (await etcRequests('esign.signflows.revoke')).at(-1);
      expect(sent?.body.params).toMatchObject({ flowId: id.slice(4), etc_member_no: MEMBER });
      // admin may name the party.
      const id2 = `ETC:${await etcFlow()}`;
      const byAdmin = await app.gql<{ revokeSignFlow: { signFlow: { status: string } } }>(REVOKE, { input: { id: id2, etcMemberNo: 'member-of-choice' } }, { token: admin });
      expect(byAdmin.data?.revokeSignFlow.signFlow.status).toBe('REVOKED');
    });
  });

  describe('audit', () => {
    it('logs every mutation with the caller, the operation and the outcome', async () => {
      const id = `ETC:${await etcFlow()}`;
      await read(acme, id);
      await app.gql(`mutation AuditMe($input: RevokeSignFlowInput!) { revokeSignFlow(input: $input) { userErrors { code } } }`, { input: { id } }, { token: acme });
      await app.gql(`mutation AuditMe($input: RevokeSignFlowInput!) { revokeSignFlow(input: $input) { userErrors { code } } }`, { input: { id } }, { token: globex });
      const lines = logLines.filter((l) => l.audit === true && l.operation === 'AuditMe');
      expect(lines).toEqual([
        expect.objectContaining({ caller: 'alice', tenant: 'acme', fields: ['revokeSignFlow'], outcome: 'ok', transport: 'http' }),
        expect.objectContaining({ caller: 'bob', tenant: 'globex', fields: ['revokeSignFlow'], outcome: 'FORBIDDEN', transport: 'http' }),
      ]);
      // Never a token in the log.
      expect(JSON.stringify(logLines)).not.toContain(acme.split('.')[2]);
    });
  });
});
