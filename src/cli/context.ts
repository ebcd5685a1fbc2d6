// What every xe command receives, and the shape of the command table. Commands call the XenAPI
// through the same client any other program uses; there is no side door.
import type { XapiClient } from '../rpc/client.js';
import type { RefResolver } from './records.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal (progress bars go there only then). */
  readonly isTty: boolean;
}

export interface CliCtx {
  readonly api: XapiClient;
  /** xe's session reference (the API's `self` for session.get_* calls). */
  readonly session: string;
  readonly io: Io;
  readonly refs: RefResolver;
  readonly params: Map<string, string>;
  readonly minimal: boolean;
  /** Aborted on Ctrl-C; long-running commands cancel their task. */
  readonly signal: AbortSignal;
  readonly call: (method: string, ...args: unknown[]) => Promise<unknown>;
}

export interface Command {
  readonly name: string;
  readonly reqd: readonly string[];
  readonly optional: readonly string[];
  readonly help: string;
  /** Listed by `xe help` (the common commands) rather than only by `xe help --all`. */
  readonly standard?: boolean;
  /**
   * xapi's Neverforward commands (No_fd_local_session): they act on the host xe talks to, even a
   * pool member or a host whose master is gone, so xe logs in with
   * session.slave_local_login_with_password instead of session.login_with_password (which a
   * member refuses with HOST_IS_SLAVE).
   */
  readonly local?: boolean;
  run(ctx: CliCtx): Promise<void>;
}

/** A failure xe reports with its own text (not an API error). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    /** Follow the message with xe's "For usage run: 'xe help'" line. */
    readonly usageHint = false,
    /** The failure was already reported (e.g. per-VM failures of --multiple); only exit 1. */
    readonly reported = false,
  ) {
    super(message);
  }
}

export function required(ctx: CliCtx, name: string): string {
  const v = ctx.params.get(name);
  if (v === undefined) throw new CliError(`Required parameter not found: ${name}`, true);
  return v;
}
