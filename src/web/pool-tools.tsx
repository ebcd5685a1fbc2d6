// The pool page's tools: install a VM from a template (with its task's progress), download a pool
// database dump, and restore one, its dry run shown before the operator confirms.
import { useState } from 'preact/hooks';
import { FieldError, TypedConfirm } from './actions.js';
import { byName, text } from './format.js';
import type { Live } from './live.js';
import { XapiError, type Session } from './xapi.js';

/** Resolves with the task's result once it has finished; rejects with its error. */
function taskDone(live: Live, task: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const t = live.get('task', task);
      if (t === undefined || t.status === 'pending') return false;
      stop();
      // The result is XML-RPC's encoding of the value (xapi's task.result): here, a reference.
      if (t.status === 'success') resolve(text(t.result).replace(/<[^>]*>/g, ''));
      else {
        const [code = 'INTERNAL_ERROR', ...params] = (t.error_info as string[] | undefined) ?? [];
        reject(new XapiError(code, params));
      }
      return true;
    };
    const stop = live.onChange(() => void check());
    check();
  });
}

function Install({ session, live }: { session: Session; live: Live }) {
  const templates = live
    .all('VM')
    .filter(([, v]) => v.is_a_template === true && v.is_a_snapshot !== true)
    .sort(byName);
  const [tpl, setTpl] = useState('');
  const [name, setName] = useState('');
  const [errors, setErrors] = useState<{ name?: string; template?: string; install?: string }>({});
  const [task, setTask] = useState<string | undefined>(undefined);
  const progress = task === undefined ? undefined : Number(live.get('task', task)?.progress ?? 0);
  const submit = async (e: Event) => {
    e.preventDefault();
    const chosen = tpl || templates[0]?.[0] || '';
    if (name.trim() === '') return setErrors({ name: 'Give the new VM a name.' });
    setErrors({});
    let vm: string | undefined;
    try {
      const clone = await session.call<string>('Async.VM.clone', chosen, name);
      setTask(clone);
      vm = await taskDone(live, clone);
      const provision = await session.call<string>('Async.VM.provision', vm);
      setTask(provision);
      await taskDone(live, provision);
      setName('');
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (vm !== undefined) await session.call('VM.destroy', vm).catch(() => undefined);
      // Errors about the template or its disks belong beside the template; the rest beside the name.
      setErrors(
        /TEMPLATE|VM|SR|VDI|HANDLE_INVALID/.test(msg) && vm === undefined
          ? { template: msg }
          : { install: msg },
      );
    } finally {
      setTask(undefined);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-label="install a VM">
      <h4>Install a VM</h4>
      <label>
        Template
        <select
          name="template"
          value={tpl || templates[0]?.[0]}
          onChange={(e) => setTpl(e.currentTarget.value)}
          aria-invalid={errors.template !== undefined ? true : undefined}
        >
          {templates.map(([ref, t]) => (
            <option key={ref} value={ref}>
              {text(t.name_label)}
            </option>
          ))}
        </select>
        <FieldError error={errors.template} />
      </label>
      <label>
        Name
        <input
          name="name"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
          aria-invalid={errors.name !== undefined ? true : undefined}
        />
        <FieldError error={errors.name} />
      </label>
      {progress !== undefined && <progress value={progress} max={1} aria-label="install progress" />}
      {errors.install !== undefined && (
        <p class="field-error" role="alert">
          {errors.install}
        </p>
      )}
      <button type="submit" aria-busy={task !== undefined} disabled={task !== undefined}>
        Install
      </button>
    </form>
  );
}

/** PUT /pool/xmldbdump: the plan or the result as lines, or the XenAPI error. */
async function sendDump(session: Session, file: Blob, dryRun: boolean): Promise<string> {
  const res = await fetch(`/pool/xmldbdump?session_id=${encodeURIComponent(session.ref)}&dry_run=${dryRun}`, {
    method: 'PUT',
    body: file,
  });
  const body = await res.text();
  if (res.ok) return body;
  let code = `HTTP ${res.status}`;
  let params: string[] = [];
  try {
    [code = code, ...params] = (JSON.parse(body) as { error: string[] }).error;
  } catch {
    // not a XenAPI error body: the status says it
  }
  throw new XapiError(code, params);
}

function Restore({ session, live }: { session: Session; live: Live }) {
  const [file, setFile] = useState<File | undefined>(undefined);
  const [plan, setPlan] = useState<string | undefined>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const dry = async () => {
    if (file === undefined) return setError('Choose a dump file first.');
    setBusy(true);
    setError(undefined);
    setPlan(undefined);
    try {
      setPlan(await sendDump(session, file, true));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-label="restore">
      <h4>Restore the pool database</h4>
      <p>
        <a
          href={`/pool/xmldbdump?session_id=${encodeURIComponent(session.ref)}`}
          download="pool-database.dump"
        >
          Download a dump of the pool database
        </a>
      </p>
      <label>
        Dump file
        <input
          type="file"
          name="dump"
          onChange={(e) => {
            setFile(e.currentTarget.files?.[0]);
            setPlan(undefined);
            setDone(undefined);
          }}
          aria-invalid={error !== undefined ? true : undefined}
        />
        <FieldError error={error} />
      </label>
      <button class="secondary" aria-busy={busy} disabled={busy} onClick={() => void dry()}>
        Check (dry run)
      </button>
      {plan !== undefined && (
        <>
          <pre aria-label="restore plan">{plan}</pre>
          <TypedConfirm
            action="Restore"
            name="restore"
            warning="Replaces the pool database with this dump, here, now. This host becomes the master of the restored pool."
            run={async () => {
              setDone(await sendDump(session, file as File, false));
              setPlan(undefined);
              live.resync();
            }}
          />
        </>
      )}
      {done !== undefined && <pre aria-label="restore result">{done}</pre>}
    </section>
  );
}

export function PoolTools({ session, live }: { session: Session; live: Live }) {
  return (
    <div class="pool-tools">
      <Install session={session} live={live} />
      <Restore session={session} live={live} />
    </div>
  );
}
