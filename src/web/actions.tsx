// Buttons that call the API: each shows that it is busy and, when the call is refused, the XenAPI
// error beside it. A destructive action asks the operator to type the name of what it acts on (as
// the guide says: "make sure the host is really off").
import { useState } from 'preact/hooks';

/** A refusal shown under the field or button it concerns (nothing when there is none). */
export function FieldError({ error }: { error: string | undefined }) {
  return error === undefined ? null : (
    <small class="field-error" role="alert">
      {error}
    </small>
  );
}

export function ActionButton(props: { label: string; run: () => Promise<unknown>; class?: string }) {
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const go = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.run();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button class={props.class ?? ''} aria-busy={busy} disabled={busy} onClick={() => void go()}>
        {props.label}
      </button>
      <FieldError error={error} />
    </span>
  );
}

export function TypedConfirm(props: {
  /** What the button says, e.g. "Declare dead". */
  action: string;
  /** The name the operator must type. */
  name: string;
  /** One sentence on what will happen. */
  warning: string;
  run: () => Promise<unknown>;
}) {
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  if (!open)
    return (
      <button class="secondary" onClick={() => setOpen(true)}>
        {props.action}…
      </button>
    );
  const go = async (e: Event) => {
    e.preventDefault();
    if (typed !== props.name) {
      setError(`Type ${props.name} exactly to confirm.`);
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await props.run();
      setOpen(false);
      setTyped('');
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="confirm" onSubmit={(e) => void go(e)} aria-label={`${props.action} ${props.name}`}>
      <p>{props.warning}</p>
      <label>
        Type <strong>{props.name}</strong> to confirm
        <input
          name="confirm"
          value={typed}
          onInput={(e) => setTyped(e.currentTarget.value)}
          aria-invalid={error !== undefined ? true : undefined}
        />
        <FieldError error={error} />
      </label>
      <div role="group">
        <button type="submit" class="contrast" aria-busy={busy}>
          {props.action}
        </button>
        <button type="button" class="secondary" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
