#!/usr/bin/env node
// The package's `bin`. The CLI is TypeScript compiled to dist/ (not committed; `npm install` builds it through the
// `prepare` script). This launcher is committed so the command exists in a fresh clone and, when the build is
// missing (installed with --ignore-scripts, or dist/ removed), says what to run instead of a module-not-found trace.
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const built = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(built)) {
  process.stderr.write(`esign-lifecycle: ${path.relative(process.cwd(), built) || built} is missing: run \`npm run build\` in ${path.join(__dirname, '..')}\n`);
  process.exit(1);
}
require(built).run();
