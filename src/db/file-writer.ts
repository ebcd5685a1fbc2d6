// Writes a whole new database file on a worker thread while this thread goes on. A restore sends
// the dump's rows as they are read; at the end, `finish` sends what differs in the final rows
// (the restore's own edits), and the caller loads its in-memory tables while the file is
// committed and fsynced. `wait` then blocks this thread until the file is durable: nothing else
// runs in between, so no commit can slip in before the store swaps the file in.
import { rmSync } from 'node:fs';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { Batch, ToWriter, WriterData } from './file-writer-worker.js';
import type { StoredRow } from './sqlite-store.js';

/** Rows per message: large enough to keep the messaging overhead small. */
const BATCH = 4096;
/** The longest wait for the worker: a bound, not an expectation (310 MB take a few seconds). */
const WAIT_MS = 5 * 60_000;

export class FileWrite {
  private readonly worker: Worker;
  private readonly port: MessageChannel['port1'];
  private readonly done = new SharedArrayBuffer(4);
  /** The text sent for each ref, to send again only what the final rows change. */
  private readonly sent = new Map<string, string>();
  private ended = false;

  /** Starts a new database file at `file`, which must not exist. */
  constructor(private readonly file: string) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const data: WriterData = { file, port: port2, done: this.done };
    this.worker = new Worker(new URL('./file-writer-worker.js', import.meta.url), {
      workerData: data,
      transferList: [port2],
    });
    this.worker.unref();
  }

  /** Rows to write; a ref sent again replaces what was sent before. */
  add(rows: readonly StoredRow[]): void {
    for (let i = 0; i < rows.length; i += BATCH) {
      const batch: Batch = { refs: [], classes: [], ctimes: [], mtimes: [], bodies: [] };
      for (let j = i; j < Math.min(i + BATCH, rows.length); j++) {
        const r = rows[j] as StoredRow;
        const text = r.text ?? JSON.stringify(r.body);
        this.sent.set(r.ref, text);
        batch.refs.push(r.ref);
        batch.classes.push(r.cls);
        batch.ctimes.push(r.ctime);
        batch.mtimes.push(r.mtime);
        batch.bodies.push(text);
      }
      this.post({ rows: batch });
    }
  }

  /**
   * `rows`, given as the bytes of their lines in a pool dump: the worker cuts them out itself, so
   * this thread only copies bytes (copying the texts between threads as strings cost far more).
   */
  addLines(rows: readonly StoredRow[], bytes: Buffer): void {
    for (const r of rows) this.sent.set(r.ref, r.text ?? JSON.stringify(r.body));
    const copy = new Uint8Array(bytes);
    this.port.postMessage({ lines: copy } satisfies ToWriter, [copy.buffer]);
  }

  /**
   * The file is to hold exactly `rows` and `meta`: rows sent before with another text are sent
   * again, rows sent before and not in `rows` are removed. Then it is committed and fsynced.
   */
  finish(rows: readonly StoredRow[], meta: Record<string, string>): void {
    const changed = rows.filter((r) => {
      const was = this.sent.get(r.ref);
      this.sent.delete(r.ref);
      return was !== (r.text ?? JSON.stringify(r.body));
    });
    const deletes = [...this.sent.keys()];
    this.sent.clear();
    this.add(changed);
    this.ended = true;
    this.post({ end: true, deletes, meta: Object.entries(meta) });
  }

  private post(m: ToWriter): void {
    this.port.postMessage(m);
  }

  /** Blocks until the file is written and fsynced; throws (and removes the file) if it is not. */
  wait(): void {
    const flag = new Int32Array(this.done);
    const outcome = this.ended ? Atomics.wait(flag, 0, 0, WAIT_MS) : 'not-finished';
    const answer = receiveMessageOnPort(this.port)?.message as { ok?: true; error?: string } | undefined;
    this.port.close();
    void this.worker.terminate();
    if (answer?.ok !== true) {
      rmSync(this.file, { force: true });
      const why = outcome === 'timed-out' ? `no answer in ${WAIT_MS} ms` : (answer?.error ?? outcome);
      throw new Error(`writing ${this.file} failed: ${why}`);
    }
  }

  /** Gives up: the file is removed. */
  abandon(): void {
    this.port.close();
    void this.worker.terminate().then(() => rmSync(this.file, { force: true }));
  }
}
