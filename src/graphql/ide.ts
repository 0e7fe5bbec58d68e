import { createHash } from 'node:crypto';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import express from 'express';
import { ConfigError } from '../config-error';

/**
 * The GraphQL IDE served at `GET /graphql` to browsers: GraphiQL as graphql-yoga bundles it
 * (@graphql-yoga/render-graphiql, which inlines React, Monaco, its workers, fonts and icons). Every byte comes from
 * this server — the page, its script, its stylesheet and its three editor workers are served under
 * {@link IDE_ASSETS_PATH} — so it works with no internet access, and its Content-Security-Policy lets the browser
 * load nothing from anywhere else.
 */

type Env = Record<string, string | undefined>;

export interface IdeConfig {
  /** `IDE`: on by default, off by default in production (NODE_ENV=production) unless `IDE=on`. */
  enabled: boolean;
}

export function loadIdeConfig(env: Env): IdeConfig {
  const raw = env.IDE?.trim().toLowerCase();
  if (raw !== undefined && raw !== '' && raw !== 'on' && raw !== 'off') throw new ConfigError('IDE', 'must be "on" or "off"');
  if (raw === 'on' || raw === 'off') return { enabled: raw === 'on' };
  return { enabled: env.NODE_ENV?.trim() !== 'production' };
}

/** Where the IDE's script, stylesheet and workers are served (before the GraphQL handler mounted at /graphql). */
export const IDE_ASSETS_PATH = '/graphql/ide';

interface Bundle {
  js: string;
  css: string;
  favicon: string;
  editorWorkerService: string;
  jsonWorker: string;
  graphqlWorker: string;
}

interface Asset {
  body: Buffer;
  type: string;
}

let assets: Map<string, Asset> | undefined;
let version = '';

/** Loaded on first use (the bundle is 9 MB of JavaScript), then kept: it never changes while the process runs. */
function loadAssets(): Map<string, Asset> {
  if (assets) return assets;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundle's subpath has no type declarations of its own
  const bundle = require('@graphql-yoga/render-graphiql/graphiql') as Bundle;
  const js = (text: string): Asset => ({ body: Buffer.from(text), type: 'text/javascript; charset=utf-8' });
  const favicon = /^data:([^;,]+);base64,(.*)$/s.exec(bundle.favicon);
  const made = new Map<string, Asset>([
    ['graphiql.js', js(bundle.js)],
    ['graphiql.css', { body: Buffer.from(bundle.css), type: 'text/css; charset=utf-8' }],
    ['editor.worker.js', js(bundle.editorWorkerService)],
    ['json.worker.js', js(bundle.jsonWorker)],
    ['graphql.worker.js', js(bundle.graphqlWorker)],
    ['boot.js', js(BOOT_SCRIPT)],
  ]);
  if (favicon) made.set('favicon.ico', { body: Buffer.from(favicon[2] ?? '', 'base64'), type: favicon[1] ?? 'image/x-icon' });
  const hash = createHash('sha256');
  for (const asset of made.values()) hash.update(asset.body);
  version = hash.digest('hex').slice(0, 12);
  assets = made;
  return made;
}

/**
 * Runs in the page (served as boot.js: the page has no inline script, so its CSP needs no 'unsafe-inline' for
 * scripts). The WebSocket carries the token in `connection_init`, not in headers, so the bearer token typed into
 * the headers editor of the active tab is read from GraphiQL's saved tab state when a socket opens; sockets close
 * when no subscription is running, so the next one picks up a changed token.
 */
const BOOT_SCRIPT = `(function () {
  var options = JSON.parse(document.getElementById('ide-options').textContent);
  var workers = options.workers;
  delete options.workers;
  self.MonacoEnvironment = {
    globalAPI: false,
    getWorkerUrl: function (_moduleId, label) { return workers[label] || workers.editorWorkerService; },
  };
  function currentHeaders() {
    try {
      var state = JSON.parse(localStorage.getItem('graphiql:tabState') || 'null');
      var tab = state && state.tabs && state.tabs[state.activeTabIndex || 0];
      var text = (tab && tab.headers) || localStorage.getItem('graphiql:headers') || options.headers || '{}';
      return JSON.parse(text) || {};
    } catch (e) {
      return {};
    }
  }
  function authorization() {
    var headers = currentHeaders();
    for (var name in headers) {
      if (name.toLowerCase() === 'authorization' && typeof headers[name] === 'string') return { authorization: headers[name] };
    }
    return {};
  }
  // GraphiQL saves its tabs half a second after an edit: wait that long, so a token pasted just before pressing
  // Run is the one sent.
  options.connectionParams = function () {
    return new Promise(function (resolve) { setTimeout(function () { resolve(authorization()); }, 600); });
  };
  YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), options);
})();
`;

/** The tabs a first visit opens with: a read, a revoke and a subscription of this API (demo flows of the sandbox). */
export const DEFAULT_TABS = [
  {
    query: `# Read a flow. In sandbox mode the demo ETC flows exist; any other well-formed id is read through from its
# provider. With authentication on, put {"Authorization": "Bearer <JWT>"} under Headers below.
query ReadFlow {
  signFlow(id: "ETC:c64665aa4f1c45679e65b6fae33cd773") {
    id
    provider
    status
    providerStatus
    updatedAt
    events(first: 5) {
      edges { node { id status source receivedAt actor } }
    }
  }
}`,
  },
  {
    query: `# Revoke an unfinished flow. A refusal (already finished, wrong member…) comes back in userErrors.
mutation Revoke {
  revokeSignFlow(
    input: { id: "ETC:9a8b7c6d5e4f30211f2e3d4c5b6a7980", etcMemberNo: "40eb61714d9e49088bac7a3c56d69d66", reason: "合同有误" }
  ) {
    signFlow { id status providerStatus }
    userErrors { code field message }
  }
}`,
  },
  {
    query: `# Every status event, live, over the WebSocket. In sandbox mode, move a demo flow to see one arrive:
#   curl -X POST <this server>/sandbox/_admin/etc/flows/1b2c3d4e5f60718293a4b5c6d7e8f901/transition \\
#     -H 'content-type: application/json' -d '{"status":"COMPLETED"}'
# Pass after: "<an event id>" to replay what came after that event first.
subscription Events {
  signFlowEvents {
    id
    status
    providerStatus
    source
    receivedAt
    flow { id status }
  }
}`,
  },
];

function escapeJsonForHtml(value: unknown): string {
  // Inside <script type="application/json">, only "</script" (and HTML comment openers) could end the element.
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

export interface IdePageOptions {
  /** The GraphQL endpoint the IDE talks to (HTTP; the WebSocket is the same path). */
  endpoint: string;
  title?: string;
}

/** The IDE page: a shell that loads the bundle from {@link IDE_ASSETS_PATH}; the options travel as JSON data. */
export function renderIdePage(options: IdePageOptions): string {
  loadAssets();
  const asset = (name: string) => `${IDE_ASSETS_PATH}/${name}?v=${version}`;
  const title = options.title ?? 'esign-lifecycle GraphiQL';
  const pageOptions = {
    title,
    endpoint: options.endpoint,
    subscriptionsProtocol: 'WS',
    defaultTabs: DEFAULT_TABS,
    // The headers editor sends what it holds with every request: empty, so a placeholder never goes out as a token.
    headers: '{}',
    shouldPersistHeaders: true,
    maxHistoryLength: 50,
    credentials: 'same-origin',
    workers: { editorWorkerService: asset('editor.worker.js'), json: asset('json.worker.js'), graphql: asset('graphql.worker.js') },
  };
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title}</title>
    <link rel="icon" href="${asset('favicon.ico')}" />
    <link rel="stylesheet" href="${asset('graphiql.css')}" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>The GraphQL IDE needs JavaScript.</noscript>
    <div id="root"></div>
    <script type="application/json" id="ide-options">${escapeJsonForHtml(pageOptions)}</script>
    <script src="${asset('graphiql.js')}"></script>
    <script src="${asset('boot.js')}"></script>
  </body>
</html>
`;
}

/**
 * What the browser may load on the IDE page: this server only (scripts, styles, workers, fetch and the WebSocket);
 * fonts and icons are data: URLs inside the stylesheet. Monaco injects style elements, hence 'unsafe-inline' for
 * styles only.
 */
export const IDE_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Serves the IDE's assets; long-cached, since their URLs carry a hash of their content. */
export function ideAssetsRouter(): express.Router {
  const router = express.Router();
  router.get('/:name', (req, res, next) => {
    const asset = loadAssets().get(req.params.name);
    if (!asset) {
      next();
      return;
    }
    res.setHeader('content-type', asset.type);
    res.setHeader('cache-control', req.query.v === version ? 'public, max-age=31536000, immutable' : 'no-cache');
    res.setHeader('x-content-type-options', 'nosniff');
    res.end(asset.body);
  });
  return router;
}

/** Sets the IDE page's security headers on browser GETs of the endpoint (Apollo writes the page itself). */
export function ideHeaders(): express.RequestHandler {
  return (req, res, next) => {
    if (req.method === 'GET' && req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html') {
      res.setHeader('content-security-policy', IDE_CONTENT_SECURITY_POLICY);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
    }
    next();
  };
}

/** Apollo Server's landing page replaced by the IDE (Apollo's default one loads from a CDN). */
export function ideLandingPagePlugin<TContext extends BaseContext>(options: IdePageOptions): ApolloServerPlugin<TContext> {
  return {
    async serverWillStart() {
      const html = renderIdePage(options);
      return {
        async renderLandingPage() {
          return { html };
        },
      };
    },
  };
}
