// Proves xe's long-work behaviour: a progress bar on a terminal's stderr only after a second,
// nothing extra when not a terminal, the task's result decoded or its error raised, the task
// destroyed afterwards, and Ctrl-C (abort) cancelling the task.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { XapiCallError } from '../../rpc/client.js';
import type { CliCtx } from '../context.js';
import { RefResolver } from '../records.js';
import { runTask } from './task-wait.js';

interface Script {
  /** Milliseconds the task stays pending. */
  pendingMs: number;
  outcome: { status: 'success'; result: string } | { status: 'failure' | 'cancelled'; error_info: string[] };
}

function fakeCtx(script: Script, isTty: boolean, signal = new AbortController().signal) {
  const calls: string[] = [];
  const err: string[] = [];
  let cancelled = false;
  const started = Date.now();
  const ctx: CliCtx = {
    api: undefined as never,
    session: 'OpaqueRef:session',
    io: { out: () => undefined, err: (t) => err.push(t), isTty },
    refs: new RefResolver(async () => ({})),
    params: new Map(),
    minimal: false,
    signal,
    call: async (method: string) => {
      calls.push(method);
      if (method.startsWith('Async.')) return 'OpaqueRef:task';
      if (method === 'task.cancel') {
        cancelled = true;
        return '';
      }
      if (method === 'event.from') {
        await new Promise((r) => setTimeout(r, 50));
        return { token: 'x', events: [] };
      }
      if (method === 'task.get_record') {
        if (cancelled)
          return { status: 'cancelled', error_info: ['TASK_CANCELLED', 'OpaqueRef:task'], progress: 1 };
        if (Date.now() - started < script.pendingMs) return { status: 'pending', progress: 0.5 };
        return { progress: 1, ...script.outcome };
      }
      return '';
    },
  };
  return { ctx, calls, err };
}

describe('runTask', () => {
  it('returns the decoded result and destroys the task, silently when quick', async () => {
    const { ctx, calls, err } = fakeCtx(
      { pendingMs: 0, outcome: { status: 'success', result: '<value>OpaqueRef:vm</value>' } },
      true,
    );
    assert.equal(await runTask(ctx, 'VM.clone', 'a', 'b'), 'OpaqueRef:vm');
    assert.deepEqual(calls.slice(0, 2), ['Async.VM.clone', 'task.get_record']);
    assert.ok(calls.includes('task.destroy'));
    assert.deepEqual(err, []);
  });

  it('shows a progress bar on a terminal after a second, and none when piped', async () => {
    const slow: Script = { pendingMs: 1300, outcome: { status: 'success', result: '' } };
    const tty = fakeCtx(slow, true);
    await runTask(tty.ctx, 'VM.start', 'x');
    assert.ok(
      tty.err.some((t) => t.includes('50%')),
      'bar shown while pending',
    );
    assert.ok(tty.err.at(-1)?.includes('100%'));
    const piped = fakeCtx(slow, false);
    await runTask(piped.ctx, 'VM.start', 'x');
    assert.deepEqual(piped.err, []);
  });

  it("raises the task's error", async () => {
    const { ctx } = fakeCtx(
      {
        pendingMs: 0,
        outcome: { status: 'failure', error_info: ['VM_BAD_POWER_STATE', 'r', 'halted', 'running'] },
      },
      false,
    );
    await assert.rejects(
      runTask(ctx, 'VM.start', 'r'),
      (e: XapiCallError) => e.code === 'VM_BAD_POWER_STATE' && e.params[2] === 'running',
    );
  });

  it('cancels the task on Ctrl-C', async () => {
    const abort = new AbortController();
    const { ctx, calls } = fakeCtx(
      { pendingMs: 60_000, outcome: { status: 'success', result: '' } },
      false,
      abort.signal,
    );
    setTimeout(() => abort.abort(), 100);
    await assert.rejects(runTask(ctx, 'VM.start', 'r'), (e: XapiCallError) => e.code === 'TASK_CANCELLED');
    assert.ok(calls.includes('task.cancel'));
  });
});
