/**
 * `esign-lifecycle`: the operator's command line over the API (README "CLI"). Commands: `cancel`, `events`, `flow`.
 * Exit codes: 0 done, 1 error (bad arguments, API unreachable, refused), 2 partial (some flows not cancelled).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parseFlowId, SIGN_PROVIDERS, type SignProvider } from '../domain/model';
import { ApiClient, CliError, endpointFrom } from './client';
import { CANCEL_MESSAGE_FORMATS, cancelCommand, DEFAULT_BATCH_SIZE, type CancelOptions } from './commands/cancel';
import { eventsCommand } from './commands/events';
import { flowCommand } from './commands/flow';
import type { Io } from './io';
import { EXIT, type ExitCode } from './report';

export const DEFAULT_URL = 'http://127.0.0.1:4000';

interface GlobalOptions {
  url: string;
  token?: string;
}

function positiveInteger(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1.`);
    return Number(value);
  };
}

/** `--ids a,b --ids c` → [a, b, c]; a malformed id would silently match nothing, so it is refused. */
export function collectIds(value: string, previous: string[] | undefined): string[] {
  const ids = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = ids.find((id) => !parseFlowId(id));
  if (bad !== undefined) throw new InvalidArgumentError(`${JSON.stringify(bad.slice(0, 80))} is not <SignProvider>:<provider flow id>.`);
  return [...(previous ?? []), ...ids];
}

/** The program; actions report their exit code through `setExit` (commander's own errors throw, see `main`). */
export function buildProgram(io: Io, setExit: (code: ExitCode) => void): Command {
  const program = new Command('esign-lifecycle')
    .description('Operate the e-sign lifecycle API: batch-cancel flows, tail sign-flow events, read a flow.')
    .addOption(new Option('--url <url>', "the API's base URL (GraphQL at <url>/graphql, WebSocket ws(s)://…/graphql)").default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'bearer token sent as Authorization and in the WebSocket connection_init').env('ESIGN_LIFECYCLE_TOKEN'))
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();

  const api = (command: Command) => {
    const { url, token } = command.optsWithGlobals<GlobalOptions>();
    return new ApiClient(endpointFrom(url, token));
  };

  program
    .command('cancel')
    .description(
      'Cancel the flows listed in a file (one id a line, blank lines and # comments ignored, or a CSV with an id column); ' +
        'follows each task with a progress bar and writes the flows not cancelled to a CSV.',
    )
    .requiredOption('--file <path>', 'the flow ids, e.g. TENCENT_ESS:yDw… or ETC:c646…')
    .option('--reason <text>', 'the reason given to the providers')
    .addOption(new Option('--cancel-message-format <format>', 'Tencent: who the cancel message names').choices(CANCEL_MESSAGE_FORMATS))
    .option('--etc-member-no <no>', 'ETC user number of the member cancelling (required for ETC flows)')
    .option('--idempotency-key <key>', 'repeatable run: with several requests, request n uses <key>.<n>')
    .option('--failed-out <path>', 'CSV of the flows not cancelled (id,code,reason) (default: "<file>.failed.csv")')
    .addOption(new Option('--batch-size <n>', 'ids per request; the rest go in further requests, one after another').default(DEFAULT_BATCH_SIZE).argParser(positiveInteger('--batch-size')))
    .addHelpText('after', '\nExit codes: 0 every flow cancelled, 2 some failed or unknown (see the failed CSV), 1 error.')
    .action(async (options: CancelOptions, command: Command) => setExit(await cancelCommand(api(command), options, io)));

  program
    .command('events')
    .description('Print sign-flow events as they happen; reconnects after a drop and resumes from the last event printed.')
    .option('--after <id>', 'first replay every event after this id (0: from the beginning)')
    .addOption(new Option('--provider <provider>', 'only flows of this provider').choices(SIGN_PROVIDERS))
    .option('--ids <ids>', 'only these flows (comma-separated, repeatable)', collectIds)
    .option('--json', 'one JSON object a line', false)
    .addHelpText('after', '\nCtrl-C stops (exit 0) and prints the last event id, to pass as --after next time.')
    .action(async (options: { after?: string; provider?: SignProvider; ids?: string[]; json: boolean }, command: Command) =>
      setExit(await eventsCommand(api(command), options, io)),
    );

  program
    .command('flow')
    .description('Print a flow: status, provider status, last update and its latest events.')
    .argument('<id>', 'the flow id, <SignProvider>:<provider flow id>')
    .option('--json', 'print JSON', false)
    .addOption(new Option('--events <n>', 'how many of the latest events to show').default(10).argParser(positiveInteger('--events')))
    .action(async (id: string, options: { json: boolean; events: number }, command: Command) => setExit(await flowCommand(api(command), id, options, io)));

  return program;
}

/** Runs the CLI; resolves with the exit code instead of exiting, so tests and the launcher decide. */
export async function main(argv: readonly string[] = process.argv, io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<ExitCode> {
  let code: ExitCode = EXIT.OK;
  const program = buildProgram(io, (c) => (code = c));
  if (argv.length <= 2) {
    program.outputHelp({ error: true });
    return EXIT.ERROR;
  }
  try {
    await program.parseAsync([...argv]);
    return code;
  } catch (error) {
    // --help and --version throw too, with exit code 0; commander has already printed its own errors.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.OK : EXIT.ERROR;
    io.stderr.write(`esign-lifecycle: ${error instanceof CliError ? error.message : `unexpected error: ${(error as Error).stack ?? String(error)}`}\n`);
    return EXIT.ERROR;
  }
}

/** Exits once stdout and stderr are flushed: an idle keep-alive socket of fetch would otherwise hold the process. */
export function run(argv: readonly string[] = process.argv): void {
  void main(argv).then((code) => {
    process.exitCode = code;
    process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
  });
}

if (require.main === module) run();
