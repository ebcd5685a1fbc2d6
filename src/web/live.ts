// The pool as the console shows it: every object of the classes it displays, kept current by one
// event.from long-poll (no polling loop, no reloads). The first call, with an empty token, returns
// every object; each later one returns what changed since the token before.
import type { Session } from './xapi.js';

export type Rec = Record<string, unknown>;

/** The classes the console displays, as event.from names them. */
export const CLASSES = [
  'pool',
  'host',
  'host_metrics',
  'VM',
  'VM_metrics',
  'SR',
  'PBD',
  'VDI',
  'VBD',
  'VIF',
  'network',
  'message',
  'task',
];

interface Event {
  class: string;
  operation: 'add' | 'mod' | 'del';
  ref: string;
  snapshot?: Rec;
}

/** How long each event.from waits for a change, in seconds (xapi's timeout parameter). */
const WAIT_S = 30;

export class Live {
  /** class → ref → record. */
  readonly tables = new Map<string, Map<string, Rec>>(CLASSES.map((c) => [c.toLowerCase(), new Map()]));
  private readonly listeners = new Set<() => void>();
  private stopped = false;
  /** Set when the host stopped answering; cleared when it answers again. */
  lost: string | undefined;

  constructor(private readonly session: Session) {}

  /** Resolves once the first full state is in; then follows changes until stop(). */
  async start(): Promise<void> {
    const token = await this.poll('');
    void this.follow(token);
  }

  stop(): void {
    this.stopped = true;
  }

  onChange(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  all(cls: string): [string, Rec][] {
    return [...(this.tables.get(cls.toLowerCase())?.entries() ?? [])];
  }

  get(cls: string, ref: unknown): Rec | undefined {
    return typeof ref === 'string' ? this.tables.get(cls.toLowerCase())?.get(ref) : undefined;
  }

  /**
   * Loads everything again on the next round (after a restore replaced the whole database, the
   * objects it dropped send no events: the tables are rebuilt from an empty token).
   */
  resync(): void {
    this.resyncWanted = true;
  }

  private resyncWanted = false;

  private async follow(token: string): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.resyncWanted) {
          this.resyncWanted = false;
          token = '';
        }
        token = await this.poll(token);
        if (this.lost !== undefined) {
          this.lost = undefined;
          this.changed();
        }
      } catch (e) {
        if (this.stopped) return;
        this.lost = e instanceof Error ? e.message : String(e);
        this.changed();
        // The host may be restarting or the master changing: try again shortly (bounded by the
        // call itself, which fails fast while nothing answers).
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  private async poll(token: string): Promise<string> {
    const r = await this.session.call<{ events: Event[]; token: string }>(
      'event.from',
      CLASSES,
      token,
      WAIT_S,
    );
    // From an empty token the answer is every object there is: nothing else is kept.
    if (token === '') for (const t of this.tables.values()) t.clear();
    for (const ev of r.events) {
      const table = this.tables.get(ev.class.toLowerCase());
      if (table === undefined) continue;
      if (ev.operation === 'del') table.delete(ev.ref);
      else if (ev.snapshot !== undefined) table.set(ev.ref, ev.snapshot);
    }
    if (r.events.length > 0 || token === '') this.changed();
    return r.token;
  }

  private changed(): void {
    for (const f of this.listeners) f();
  }
}
