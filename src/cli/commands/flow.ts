import { parseFlowId, SIGN_PROVIDERS } from '../../domain/model';
import { CliError, type ApiClient } from '../client';
import type { Io } from '../io';
import { SIGN_FLOW, type SignFlowData } from '../operations';
import { EXIT, type ExitCode } from '../report';

export interface FlowOptions {
  json: boolean;
  /** How many of the latest events to show. */
  events: number;
}

type Flow = NonNullable<SignFlowData['signFlow']>;
type FlowEvent = Flow['events']['edges'][number]['node'];

/** Pages of 100 read at most: a flow has a handful of events; this bounds a pathological one. */
const MAX_PAGES = 50;

/** The flow and its latest events as a few aligned lines. */
export function formatFlow(flow: Flow, events: readonly FlowEvent[], total: number): string {
  const lines = [
    `${flow.id}`,
    `  status          ${flow.status}`,
    `  providerStatus  ${flow.providerStatus ?? '—'}`,
    `  updatedAt       ${flow.updatedAt}`,
    `  endedAt         ${flow.endedAt ?? '—'}`,
  ];
  if (flow.fileUrl) lines.push(`  fileUrl         ${flow.fileUrl}`);
  lines.push(events.length ? `  events (last ${events.length} of ${total}):` : '  events: none');
  for (const e of events) {
    lines.push(`    ${e.id}  ${e.receivedAt}  ${e.status}${e.providerStatus !== null ? ` (${e.providerStatus})` : ''}  ${e.source}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `flow <id>`: the flow as the API knows it (read through from its provider when the API has not seen it). */
export async function flowCommand(api: ApiClient, id: string, options: FlowOptions, io: Io): Promise<ExitCode> {
  const ref = parseFlowId(id);
  if (!ref) throw new CliError(`<id> must be <SignProvider>:<provider flow id> with SignProvider one of ${SIGN_PROVIDERS.join(', ')}, e.g. TENCENT_ESS:yDwFmUUckpstqfvzUE1h3jo1f3cqjkGm; got ${JSON.stringify(id.slice(0, 80))}`);

  let flow: Flow | undefined;
  const all: FlowEvent[] = [];
  let after: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const data: SignFlowData = await api.request<SignFlowData>(SIGN_FLOW, { id, after });
    if (!data.signFlow) throw new CliError(`no flow ${id}: neither the API nor ${ref.provider} knows it`);
    flow ??= data.signFlow;
    all.push(...data.signFlow.events.edges.map((e) => e.node));
    const { hasNextPage, endCursor } = data.signFlow.events.pageInfo;
    if (!hasNextPage || !endCursor) break;
    after = endCursor;
  }
  const latest = options.events > 0 ? all.slice(-options.events) : [];
  if (options.json) {
    const { events: _connection, ...fields } = flow!;
    io.stdout.write(`${JSON.stringify({ ...fields, events: latest })}\n`);
  } else {
    io.stdout.write(formatFlow(flow!, latest, all.length));
  }
  return EXIT.OK;
}
