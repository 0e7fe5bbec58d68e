import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';

/**
 * The sandbox's state on disk (`DATA_DIR/sandbox.json`), so a demo survives a restart: written atomically (a
 * temporary file renamed over the old one, so a crash leaves the old state or the new, never half of one), a
 * moment after the last change rather than on every one, and at once on close.
 */

export const STATE_FILE_NAME = 'sandbox.json';
/** Bumped when the shape changes incompatibly; a file of another version is ignored (and replaced on the next save). */
export const STATE_VERSION = 1;

export interface SandboxState {
  version: number;
  savedAt: string;
  /** Each emulator's `exportState()`. */
  emulators: Record<string, unknown>;
  /** The callback history (`CallbackSender.exportHistory()`). */
  callbacks: unknown[];
}

export function stateFilePath(dataDir: string): string {
  return path.join(dataDir, STATE_FILE_NAME);
}

/** Reads a state file; undefined when there is none. A file that cannot be read as a state is named in the error. */
export function readStateFile(file: string): SandboxState | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not JSON; delete it (or run npm run sandbox:reset) to start the sandbox afresh`);
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as SandboxState).version !== STATE_VERSION) return undefined;
  const state = parsed as SandboxState;
  return { version: state.version, savedAt: String(state.savedAt), emulators: state.emulators ?? {}, callbacks: Array.isArray(state.callbacks) ? state.callbacks : [] };
}

/** Writes `state` to `file` atomically. */
export function writeStateFile(file: string, state: SandboxState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temporary, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(state));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temporary, file);
}

export function removeStateFile(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * Coalesces changes into one write `delayMs` after the first (or ten times the last write's duration, when that is
 * longer: a sandbox holding 100,000 flows spends at most about a tenth of its time saving); `flush()` writes what is
 * pending now.
 */
export class StateSaver {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastWriteMs = 0;

  constructor(
    private readonly file: string,
    private readonly snapshot: () => SandboxState,
    private readonly logger: Logger,
    private readonly delayMs = 100,
  ) {}

  changed(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => this.flush(), Math.max(this.delayMs, this.lastWriteMs * 10));
    this.timer.unref();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const started = performance.now();
    try {
      writeStateFile(this.file, this.snapshot());
      this.lastWriteMs = performance.now() - started;
    } catch (error) {
      // The sandbox goes on working; only the demo's memory across restarts is at stake.
      this.logger.warn({ err: error, file: this.file }, 'could not save the sandbox state');
    }
  }

  /** Writes what is pending and stops saving. */
  close(): void {
    if (this.closed) return;
    if (this.timer) this.flush();
    this.closed = true;
  }
}
