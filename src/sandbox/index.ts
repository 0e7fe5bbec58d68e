import type { Router } from 'express';
import type { Logger } from '../logger';
import { createEsignEmulator, type EsignEmulator, type EsignEmulatorOptions } from './esign';
import { createEtcEmulator, type EtcEmulator, type EtcEmulatorOptions } from './etc';
import { SandboxKit, createSandboxRouter, type CallbackDelivery, type Clock, type Emulator, type ProviderName } from './kit';
import type { SandboxAccessOptions } from './access';
import { STATE_VERSION, StateSaver, readStateFile, type SandboxState } from './state-file';
import { createTencentEmulator, type TencentEmulator, type TencentEmulatorOptions } from './tencent';
import { createYuansferEmulator, type YuansferEmulator, type YuansferEmulatorOptions } from './yuansfer';

export type { Clock, Emulator, ProviderName, SignFlowStatusName } from './kit';
export type { EsignEmulator, EsignEmulatorOptions } from './esign';
export type { EtcEmulator, EtcEmulatorOptions } from './etc';
export type { TencentEmulator, TencentEmulatorOptions } from './tencent';
export type { YuansferEmulator, YuansferEmulatorOptions } from './yuansfer';

export interface SandboxOptions {
  /** Where each provider's callbacks go (e.g. `${PUBLIC_URL}/callbacks/etc?token=…`), read at send time. */
  callbackUrl: (provider: ProviderName) => string;
  /** The emulators' notion of now (timestamps windows, nonces, flow times). Default: the system clock. */
  clock?: Clock;
  logger?: Logger;
  /** Delay before callback retry number `retry` (1-based) for every provider. Default: each provider's own schedule. */
  callbackRetryDelaysMs?: (retry: number) => number;
  /** Per-attempt timeout of a callback delivery. Default 10 s. */
  callbackTimeoutMs?: number;
  /** Requests and callbacks remembered per provider. Default 1000. */
  historyLimit?: number;
  /**
   * Where callbacks may go. Default: only to the URL `callbackUrl` gives for the same provider (its origin and path;
   * the query may differ), so a `notifyUrl` or `autoIpnUrl` pointing anywhere else is recorded as refused.
   */
  allowCallbackTarget?: (provider: ProviderName, url: string) => boolean;
  /**
   * A file holding the emulators' state (flows, tasks, authorizations, the callback history): read at creation,
   * written atomically after every change and on close. Unset: the state lives in memory only.
   */
  stateFile?: string;
  /** Who may use the admin API and the console: `token` (SANDBOX_ADMIN_TOKEN), else loopback clients only. */
  access?: SandboxAccessOptions;
  /** Runs after the rest of a reset (`POST /_admin/reset`): the host clears what it keeps about the sandbox. */
  onReset?: () => Promise<void> | void;
  /** Puts the demo data in place: at creation when no saved state was found, and after every reset. */
  seed?: (sandbox: Sandbox) => void;
  etc?: EtcEmulatorOptions;
  esign?: EsignEmulatorOptions;
  tencent?: TencentEmulatorOptions;
  yuansfer?: YuansferEmulatorOptions;
}

export interface Sandbox {
  /** Emulators at `/<provider>` and the admin API at `/_admin`; mount anywhere, before any body parser. */
  readonly router: Router;
  readonly emulators: Readonly<Partial<Record<ProviderName, Emulator>>>;
  readonly etc: EtcEmulator;
  readonly esign: EsignEmulator;
  readonly tencent: TencentEmulator;
  readonly yuansfer: YuansferEmulator;
  readonly kit: SandboxKit;
  /**
   * Forget all state: flows, nonces, faults, logs, pending callbacks, held requests; then `onReset` and `seed`. The
   * emulators are empty (or seeded) when it returns; the promise settles once `onReset` has finished.
   */
  reset(): Promise<void>;
  /** Whether the state came from `stateFile` at creation. */
  readonly restored: boolean;
  /** reset(), then release sockets and timers; the router must not be used afterwards. */
  close(): Promise<void>;
}

/**
 * Faithful emulators of the providers, served in-process (docs/sandbox.md). A new provider's emulator is one
 * more `create…Emulator(kit.forProvider(…), options.…)` in the list below.
 */
export function createSandbox(options: SandboxOptions): Sandbox {
  let saver: StateSaver | undefined;
  const kit = new SandboxKit({
    callbackUrl: options.callbackUrl,
    clock: options.clock,
    logger: options.logger,
    callbackRetryDelaysMs: options.callbackRetryDelaysMs,
    callbackTimeoutMs: options.callbackTimeoutMs,
    historyLimit: options.historyLimit,
    allowCallbackTarget: options.allowCallbackTarget ?? ((provider, url) => sameTarget(url, options.callbackUrl(provider))),
    onChange: () => saver?.changed(),
  });
  const etc = createEtcEmulator(kit.forProvider('etc'), options.etc);
  const esign = createEsignEmulator(kit.forProvider('esign'), options.esign);
  const tencent = createTencentEmulator(kit.forProvider('tencent'), options.tencent);
  const yuansfer = createYuansferEmulator(kit.forProvider('yuansfer'), options.yuansfer);
  const emulators: Partial<Record<ProviderName, Emulator>> = { etc, tencent, esign, yuansfer };

  const forget = () => {
    kit.reset();
    for (const emulator of Object.values(emulators)) emulator?.reset();
  };
  const reset = async () => {
    forget();
    await options.onReset?.();
    if (options.seed) options.seed(sandbox);
    saver?.flush();
  };
  const router = createSandboxRouter(kit, emulators, reset, options.access);

  let restored = false;
  if (options.stateFile) {
    const state = readStateFile(options.stateFile);
    if (state) {
      for (const emulator of Object.values(emulators)) {
        const own = state.emulators[emulator!.name];
        if (own !== undefined) emulator!.importState?.(own);
      }
      kit.callbacks.importHistory(state.callbacks as CallbackDelivery[]);
      restored = true;
    }
    const snapshot = (): SandboxState => ({
      version: STATE_VERSION,
      savedAt: new Date().toISOString(),
      emulators: Object.fromEntries(Object.values(emulators).flatMap((e) => (e?.exportState ? [[e.name, e.exportState()]] : []))),
      callbacks: kit.callbacks.exportHistory(),
    });
    saver = new StateSaver(options.stateFile, snapshot, kit.logger);
  }

  const sandbox: Sandbox = {
    router,
    emulators,
    etc,
    esign,
    tencent,
    yuansfer,
    kit,
    reset,
    restored,
    async close() {
      // Saved before anything is forgotten below.
      saver?.close();
      await kit.close();
      for (const emulator of Object.values(emulators)) {
        emulator?.reset();
        await emulator?.close?.();
      }
    },
  };
  if (!restored && options.seed) {
    options.seed(sandbox);
    saver?.flush();
  }
  return sandbox;
}

/** Same origin and path; the query may differ (e签宝 signs the notifyUrl's own query values). */
function sameTarget(url: string, allowed: string): boolean {
  try {
    const target = new URL(url);
    const own = new URL(allowed);
    return target.origin === own.origin && target.pathname === own.pathname && target.username === '' && target.password === '';
  } catch {
    return false;
  }
}
