import express, { type Router } from 'express';
import { consoleAccess, type SandboxAccessOptions } from '../access';
import { CONSOLE_SCRIPT } from './script';

/**
 * The sandbox console (`GET /sandbox` in process, `GET /` standalone): one HTML page and one script, both served
 * from here, nothing from elsewhere, so it works with no internet access. It lists the emulated flows and
 * authorizations, moves them through the admin API (which sends the provider's real callback) and shows each
 * callback with the API's answer.
 */

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; }
h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .4rem; }
header { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #e3e3e3; vertical-align: top; }
td.id { font-family: ui-monospace, monospace; font-size: 12px; }
td.answer { font-family: ui-monospace, monospace; font-size: 12px; max-width: 28rem; overflow-wrap: anywhere; }
td.empty { color: #888; }
button { margin: 0 .2rem .2rem 0; }
#status.bad { color: #b00020; } #status.ok { color: #1b7f3b; }
pre#answer { background: #f6f6f6; padding: .5rem; max-height: 16rem; overflow: auto; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(34rem, 1fr)); gap: 0 1.5rem; }
`;

function page(base: string): string {
  const section = (id: string, title: string, create: string) => `
  <section id="${id}">
    <h2>${title} <button type="button" data-create="${id}">${create}</button></h2>
    <table><thead><tr><th>id</th><th>state</th><th>move to</th></tr></thead><tbody></tbody></table>
  </section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox console</title>
<link rel="stylesheet" href="${base}/_console/console.css">
</head>
<body data-base="${base}">
<header>
  <h1>Sandbox console</h1>
  <label>Admin token <input id="token" type="password" autocomplete="off" placeholder="only when SANDBOX_ADMIN_TOKEN is set"></label>
  <label><input id="live" type="checkbox" checked> live</label>
  <button type="button" id="refresh">refresh</button>
  <button type="button" id="reset">reset everything</button>
  <span id="status">loading…</span>
</header>
<p>Emulated providers. A move sends the provider's real, signed callback to the API; the API's answer shows under Callbacks, and GraphQL subscriptions see the change.</p>
<div class="grid">
${section('etc', 'ETC sign flows', 'new flow')}
${section('tencent', 'Tencent ESS sign flows', 'new flow')}
${section('esign', 'e签宝 sign flows', 'new flow')}
${section('yuansfer', 'Yuansfer auto-debit authorizations', 'new authorization')}
</div>
<h2>Last admin answer</h2>
<pre id="answer">(none yet)</pre>
<h2>Callbacks sent</h2>
<section id="callbacks">
  <table><thead><tr><th>queued</th><th>provider</th><th>event</th><th>subject</th><th>state</th><th>the API's answer (last attempt)</th></tr></thead><tbody></tbody></table>
</section>
<script src="${base}/_console/console.js"></script>
</body>
</html>
`;
}

/** Same origin only; no inline script or style, so the page's policy can forbid both. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function createConsoleRouter(access: SandboxAccessOptions): Router {
  const router = express.Router();
  const guard = consoleAccess(access);
  const headers = (res: express.Response, type: string) => {
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
  };
  router.get('/', guard, (req, res) => {
    headers(res, 'text/html; charset=utf-8');
    // baseUrl is where the sandbox is mounted (`/sandbox`, or empty standalone); it is ours, not the client's.
    res.send(page(req.baseUrl));
  });
  router.get('/_console/console.js', guard, (_req, res) => {
    headers(res, 'text/javascript; charset=utf-8');
    res.send(CONSOLE_SCRIPT);
  });
  router.get('/_console/console.css', guard, (_req, res) => {
    headers(res, 'text/css; charset=utf-8');
    res.send(STYLE);
  });
  return router;
}
