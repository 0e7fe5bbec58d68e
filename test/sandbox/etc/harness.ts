import http, { type IncomingHttpHeaders } from 'http';
import type { AddressInfo } from 'net';
import express from 'express';
import fetch from 'node-fetch';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../../src/sandbox';
import type { Clock } from '../../../src/sandbox/kit';

/**
 * Real servers on port 0 for sandbox tests: the sandbox mounted in an express app like the API mounts it, a
 * callback receiver, a settable clock and a poller with a deadline (no fixed sleeps).
 */

export interface RunningSandbox {
  /** `http://127.0.0.1:<port>/sandbox` */
  base: string;
  sandbox: Sandbox;
  close(): Promise<void>;
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function shut(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startSandbox(options: SandboxOptions): Promise<RunningSandbox> {
  const sandbox = createSandbox({ callbackRetryDelaysMs: () => 5, ...options });
  const app = express();
  app.use('/sandbox', sandbox.router);
  const server = http.createServer(app);
  const port = await listen(server);
  return {
    base: `http://127.0.0.1:${port}/sandbox`,
    sandbox,
    async close() {
      await sandbox.close();
      await shut(server);
    },
  };
}

export interface ReceivedCallback {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface CallbackAnswer {
  status?: number;
  body: string;
}

export interface Receiver {
  /** `http://127.0.0.1:<port>/callbacks` */
  url: string;
  received: ReceivedCallback[];
  /** How to answer the n-th callback (0-based). Default: ETC's acknowledgement. */
  answer: (n: number, callback: ReceivedCallback) => CallbackAnswer | undefined;
  close(): Promise<void>;
}

export const ETC_ACK: CallbackAnswer = { body: '{"response_code":"000"}' };

/** A callback receiver; an `answer` returning undefined never answers (for timeouts). */
export async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = {
    url: '',
    received: [],
    answer: () => ETC_ACK,
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const callback = { url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      const n = receiver.received.length;
      receiver.received.push(callback);
      const answer = receiver.answer(n, callback);
      if (!answer) return;
      res.writeHead(answer.status ?? 200, { 'Content-Type': 'application/json' });
      res.end(answer.body);
    });
  });
  const port = await listen(server);
  receiver.url = `http://127.0.0.1:${port}/callbacks`;
  receiver.close = () => shut(server);
  return receiver;
}

/** Polls `probe` until it returns something truthy, failing with `what` after the deadline. */
export async function waitFor<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  { timeoutMs = 5000, intervalMs = 10 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface ManualClock extends Clock {
  set(ms: number): void;
  advance(ms: number): void;
}

export function manualClock(start = Date.UTC(2024, 0, 15, 2, 30, 0)): ManualClock {
  let now = start;
  return {
    now: () => now,
    set: (ms) => {
      now = ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

export interface HttpAnswer {
  status: number;
  /** Parsed JSON (or the text); tests read into it freely. */
  body: any;
  text: string;
}

export async function request(
  method: string,
  url: string,
  body?: unknown,
  { timeoutMs = 5000, raw }: { timeoutMs?: number; raw?: string } = {},
): Promise<HttpAnswer> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, {
      method,
      headers: body === undefined && raw === undefined ? {} : { 'Content-Type': 'application/json' },
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      signal: controller.signal as unknown as import('node-fetch').RequestInit['signal'],
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON; keep the text
    }
    return { status: response.status, body: parsed, text };
  } finally {
    clearTimeout(timer);
  }
}

export const post = (url: string, body?: unknown, options?: { timeoutMs?: number; raw?: string }) =>
  request('POST', url, body, options);
export const get = (url: string) => request('GET', url);
export const del = (url: string) => request('DELETE', url);
