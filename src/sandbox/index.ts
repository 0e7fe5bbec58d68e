import type { Router } from 'express';
import type { Logger } from '../logger';
import { createEsignEmulator, type EsignEmulator, type EsignEmulatorOptions } from './esign';
import { createEtcEmulator, type EtcEmulator, type EtcEmulatorOptions } from './etc';
import { SandboxKit, createSandboxRouter, type Clock, type Emulator, type ProviderName } from './kit';
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
  /** Forget all state: flows, nonces, faults, logs, pending callbacks, held requests. */
  reset(): void;
  /** reset(), then release sockets and timers; the router must not be used afterwards. */
  close(): Promise<void>;
}

/**
 * Faithful emulators of the providers, served in-process (docs/sandbox.md). A new provider's emulator is one
 * more `create…Emulator(kit.forProvider(…), options.…)` in the list below.
 */
export function createSandbox(options: SandboxOptions): Sandbox {
  const kit = new SandboxKit({
    callbackUrl: options.callbackUrl,
    clock: options.clock,
    logger: options.logger,
    callbackRetryDelaysMs: options.callbackRetryDelaysMs,
    callbackTimeoutMs: options.callbackTimeoutMs,
    historyLimit: options.historyLimit,
  });
  const etc = createEtcEmulator(kit.forProvider('etc'), options.etc);
  const esign = createEsignEmulator(kit.forProvider('esign'), options.esign);
  const tencent = createTencentEmulator(kit.forProvider('tencent'), options.tencent);
  const yuansfer = createYuansferEmulator(kit.forProvider('yuansfer'), options.yuansfer);
  const emulators: Partial<Record<ProviderName, Emulator>> = { etc, tencent, esign, yuansfer };

  const reset = () => {
    kit.reset();
    for (const emulator of Object.values(emulators)) emulator?.reset();
  };
  const router = createSandboxRouter(kit, emulators, reset);

  return {
    router,
    emulators,
    etc,
    esign,
    tencent,
    yuansfer,
    kit,
    reset,
    async close() {
      await kit.close();
      for (const emulator of Object.values(emulators)) {
        emulator?.reset();
        await emulator?.close?.();
      }
    },
  };
}
