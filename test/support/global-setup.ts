import { spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * Suites that start the server as a separate process (replicas, crash safety, SIGTERM) run the compiled
 * `dist/src/main.js`; compile once before any suite so they never run stale code (`tsc -b`: incremental, about
 * two seconds when nothing changed). Type errors are
 * `npm run typecheck`'s business: tsc still emits, and the suites then say what is broken at run time.
 */
export default function globalSetup(): void {
  const root = path.resolve(__dirname, '..', '..');
  const result = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', path.join(root, 'tsconfig.build.json')], {
    cwd: root,
    encoding: 'utf8',
  });
  if (result.status !== 0) process.stderr.write(`\n[global-setup] tsc reported problems (output emitted anyway):\n${result.stdout.slice(0, 2000)}\n`);
}
