/**
 * `npm run schema:print` writes the subgraph SDL to schema/subgraph.graphql; `npm run schema:check` fails when the
 * committed file and the code disagree, so every schema change shows up in review.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { printSubgraphSchema } from '@apollo/subgraph';
import { buildFederatedSchema } from '../src/graphql/schema';

export const SCHEMA_FILE = path.resolve(__dirname, '..', '..', 'schema', 'subgraph.graphql');

async function main(): Promise<void> {
  const file = fs.existsSync(SCHEMA_FILE) ? SCHEMA_FILE : path.resolve('schema', 'subgraph.graphql');
  const sdl = `${printSubgraphSchema(await buildFederatedSchema()).trim()}\n`;
  if (process.argv.includes('--check')) {
    const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (committed !== sdl) {
      process.stderr.write(`${path.relative(process.cwd(), file)} is out of date: run \`npm run schema:print\` and commit the result\n`);
      process.exit(1);
    }
    process.stdout.write(`${path.relative(process.cwd(), file)} matches the code\n`);
    return;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, sdl);
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
