/**
 * `npm run sandbox:reset`: what `POST /sandbox/_admin/reset` does, with the server stopped. Deletes the sandbox's
 * saved state (DATA_DIR/sandbox.json) and the store's records of the emulated providers (src/sandbox/store-reset.ts),
 * reading the same environment as `npm start` to know which store and which providers. Run it while the server is
 * stopped: a running server keeps its state in memory and would write it back.
 */
import { ConfigError, loadConfig } from '../src/config';
import { stateFilePath, removeStateFile } from '../src/sandbox/state-file';
import { emulatedProviders, resetSandboxRecords } from '../src/sandbox/store-reset';
import { openStore } from '../src/store';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (!config.sandbox) {
    process.stderr.write('the sandbox is off in this configuration (SANDBOX, NODE_ENV or provider credentials): nothing to reset\n');
    return 1;
  }
  const file = stateFilePath(config.dataDir);
  const removed = removeStateFile(file);
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const scope = emulatedProviders(config);
    const counts = await resetSandboxRecords(store, scope);
    process.stdout.write(
      `${removed ? `removed ${file}` : `no ${file}`}; store (${store.dialect}): deleted ${counts.flows} flows, ${counts.events} events, ` +
        `${counts.receipts} callback receipts, ${counts.rescissions} rescissions, ${counts.autoDebits} auto-debits, ` +
        `${counts.cancelTasks} cancel tasks, ${counts.operations} idempotency keys ` +
        `(emulated: ${[...scope.signProviders, ...(scope.autoDebits ? ['YUANSFER'] : [])].join(', ') || 'none'})\n`,
    );
  } finally {
    await store.close();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`sandbox reset failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
