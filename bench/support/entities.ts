/**
 * P5 (run as its own process by `npm run bench`): one `_entities` request of BENCH_ENTITIES SignFlow references, as a
 * router sends it, against the API with a query hook on its store; counts the store statements the request runs
 * (per table) and times it. Answers `{ ready: { refs, statements, flowSelects, medianMs } }`.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startApp } from '../../src/app';
import { silentLogger } from '../../src/logger';
import { etcBody } from './load';

async function main(refs: number, store?: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-bench-entities-'));
  const statements: string[] = [];
  const app = await startApp({
    logger: silentLogger,
    env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, SANDBOX: 'on', LOG_LEVEL: 'silent', DATABASE_URL: store },
    onStoreQuery: (event) => {
      if (event.level === 'query') statements.push(event.query.sql);
    },
  });
  try {
    const ids: string[] = [];
    for (let i = 0; i < refs; i++) {
      const body = etcBody();
      await fetch(`${app.url}/callbacks/etc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      ids.push(`ETC:${(JSON.parse(body) as { sign_flow_id: string }).sign_flow_id}`);
    }
    const request = JSON.stringify({
      query: 'query ($r: [_Any!]!) { _entities(representations: $r) { ... on SignFlow { id status providerStatus } } }',
      variables: { r: ids.map((id) => ({ __typename: 'SignFlow', id })) },
    });
    const once = async () => {
      const res = await fetch(app.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: request });
      const body = (await res.json()) as { data?: { _entities: unknown[] }; errors?: unknown };
      if (!body.data || body.data._entities.filter(Boolean).length !== refs) throw new Error(`_entities failed: ${JSON.stringify(body).slice(0, 300)}`);
    };
    await once();
    const mark = statements.length;
    await once();
    const counted = statements.slice(mark);
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      await once();
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    process.send!({
      ready: { refs, statements: counted.length, flowSelects: counted.filter((s) => /^select\b[\s\S]*?\bfrom "flows"/i.test(s)).length, medianMs: times[10] },
    });
  } finally {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const config = JSON.parse(process.argv[2] as string) as { refs: number; databaseUrl?: string };
  main(config.refs, config.databaseUrl).catch((error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
