// Writes a whole new database file on a worker thread while this thread goes on (a restore or a
// snapshot install loads its in-memory tables meanwhile). `wait` blocks this thread until the file
// is durable: nothing else runs in between, so no commit can slip in before the swap.
import { rmSync } from 'node:fs';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { ToWriter, WireRow, WriterData } from './file-writer-worker.js';
import type { StoredRow } from './sqlite-store.js';

/** Rows per message: large enough to keep the messaging overhead small. */
const BATCH = 4096;
/** The longest wait for the worker: a bound, not an expectation (310 MB take a few seconds). */
const WAIT_MS = 10 * 60_000;

export class FileWrite {
  private readonly worker: Worker;
  private readonly port: MessageChannel['port1'];
  private readonly done = new SharedArrayBuffer(4);

  /** Starts writing `rows` and `meta` into `file`, which must not exist yet. */
  constructor(
    private readonly file: string,
    rows: readonly StoredRow[],
    meta: Record<string, string>,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const data: WriterData = { file, port: port2, done: this.done };
    this.worker = new Worker(new URL('./file-writer-worker.js', import.meta.url), {
      workerData: data,
      transferList: [port2],
    });
    this.worker.unref();
    for (let i = 0; i < rows.length; i += BATCH) {
      const batch: WireRow[] = [];
      for (let j = i; j < Math.min(i + BATCH, rows.length); j++) {
        const r = rows[j] as StoredRow;
        batch.push([r.ref, r.cls, r.ctime, r.mtime, r.text ?? JSON.stringify(r.body)]);
      }
      this.post({ rows: batch });
    }
    this.post({ end: true, meta: Object.entries(meta) });
  }

  private post(m: ToWriter): void {
    this.port.postMessage(m);
  }

  /** Blocks until the file is written and fsynced; throws (and removes the file) if it is not. */
  wait(): void {
    const flag = new Int32Array(this.done);
    const outcome = Atomics.wait(flag, 0, 0, WAIT_MS);
    const answer = receiveMessageOnPort(this.port)?.message as { ok?: true; error?: string } | undefined;
    this.port.close();
    void this.worker.terminate();
    if (outcome === 'timed-out' || answer?.ok !== true) {
      rmSync(this.file, { force: true });
      throw new Error(
        `writing ${this.file} failed: ${outcome === 'timed-out' ? `no answer in ${WAIT_MS} ms` : (answer?.error ?? 'the writer stopped')}`,
      );
    }
  }

  /** Gives up: the file is removed. */
  abandon(): void {
    this.port.close();
    void this.worker.terminate().then(() => rmSync(this.file, { force: true }));
  }
}
