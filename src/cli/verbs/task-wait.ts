// Long work as xe does it: call Async.<method>, wait for the task through event.from, show a
// progress bar on stderr when it is a terminal and the task takes over a second, cancel the task
// on Ctrl-C, and return the decoded result (or throw the task's error).
import { XapiCallError } from '../../rpc/client.js';
import { parseMethodResponse } from '../../rpc/xml.js';
import type { CliCtx } from '../context.js';

const PROGRESS_AFTER_MS = 1000;

function decodeResult(xml: string): unknown {
  if (xml === '') return '';
  // task.result is an XML-RPC <value> fragment: wrap it as a response to reuse the decoder.
  const r = parseMethodResponse(
    `<?xml version="1.0"?><methodResponse><params><param>${xml}</param></params></methodResponse>`,
  );
  return r.ok ? r.value : '';
}

function bar(progress: number): string {
  const width = 40;
  const done = Math.round(Math.max(0, Math.min(1, progress)) * width);
  return `\r[${'#'.repeat(done)}${' '.repeat(width - done)}] ${Math.round(progress * 100)}%`;
}

export async function runTask(ctx: CliCtx, method: string, ...args: unknown[]): Promise<unknown> {
  const task = (await ctx.call(`Async.${method}`, ...args)) as string;
  const started = Date.now();
  let shown = false;
  const onAbort = () => void ctx.call('task.cancel', task).catch(() => undefined);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    let token = '';
    for (;;) {
      const rec = (await ctx.call('task.get_record', task)) as Record<string, unknown>;
      if (rec.status !== 'pending') {
        if (shown) ctx.io.err(bar(1) + '\n');
        await ctx.call('task.destroy', task).catch(() => undefined);
        if (rec.status === 'success') return decodeResult(String(rec.result));
        const [code, ...params] = (rec.error_info as string[] | undefined) ?? ['INTERNAL_ERROR'];
        throw new XapiCallError(code ?? 'INTERNAL_ERROR', params);
      }
      if (ctx.io.isTty && Date.now() - started > PROGRESS_AFTER_MS) {
        shown = true;
        ctx.io.err(bar(Number(rec.progress)));
      }
      const r = (await ctx.call('event.from', [`task/${task}`], token, 1.0)) as { token: string };
      token = r.token;
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}
