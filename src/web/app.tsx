// The console's pages: login, then the pool tree (pool → hosts → their VMs, SRs) beside the
// selected object's properties and actions. All state comes from Live (event.from), so what is
// shown follows the pool without reloads.
import { useEffect, useState } from 'preact/hooks';
import { Live, type Rec } from './live.js';
import { Session, XapiError } from './xapi.js';

type Selection = { cls: string; ref: string } | undefined;

/** A field's value as text: strings as they are, structures as JSON. */
function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return v === undefined || v === null ? '' : JSON.stringify(v);
}

export function App() {
  const [live, setLive] = useState<{ session: Session; live: Live } | undefined>(undefined);
  if (live === undefined) return <Login onLogin={(session, l) => setLive({ session, live: l })} />;
  return (
    <Shell
      session={live.session}
      live={live.live}
      onLogout={() => {
        live.live.stop();
        void live.session.logout();
        setLive(undefined);
      }}
    />
  );
}

function Login({ onLogin }: { onLogin: (s: Session, l: Live) => void }) {
  const [user, setUser] = useState('root');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await Session.login(user, password);
      const live = new Live(session);
      await live.start();
      onLogin(session, live);
    } catch (err) {
      setError(err instanceof XapiError ? err.message : `cannot reach the host: ${String(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="container">
      <h1>Poolstack</h1>
      <form onSubmit={(e) => void submit(e)} aria-label="log in">
        <label>
          User name
          <input
            name="user"
            value={user}
            onInput={(e) => setUser(e.currentTarget.value)}
            autocomplete="username"
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            autocomplete="current-password"
            aria-invalid={error !== undefined ? true : undefined}
          />
          {error !== undefined && (
            <small class="field-error" role="alert">
              {error}
            </small>
          )}
        </label>
        <button type="submit" aria-busy={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}

/** Re-renders whenever the live state changes. */
function useLive(live: Live): number {
  const [version, setVersion] = useState(0);
  useEffect(() => live.onChange(() => setVersion((v) => v + 1)), [live]);
  return version;
}

const isGuest = (vm: Rec) =>
  vm.is_a_template !== true && vm.is_control_domain !== true && vm.is_a_snapshot !== true;

function Shell({ session, live, onLogout }: { session: Session; live: Live; onLogout: () => void }) {
  useLive(live);
  const [sel, setSel] = useState<Selection>(undefined);
  const [poolRef, pool] = live.all('pool')[0] ?? ['', {}];
  const selected = sel === undefined ? { cls: 'pool', ref: poolRef } : sel;
  return (
    <main class="container-fluid">
      <nav>
        <ul>
          <li>
            <strong>Poolstack</strong> — {text(pool.name_label ?? '')}
          </li>
        </ul>
        <ul>
          <li>
            <button class="secondary" onClick={onLogout}>
              Log out
            </button>
          </li>
        </ul>
      </nav>
      {live.lost !== undefined && (
        <p class="banner" role="status">
          The host is not answering: {live.lost}
        </p>
      )}
      <div class="shell">
        <Tree live={live} poolRef={poolRef} selected={selected} select={setSel} />
        <Details session={session} live={live} sel={selected} />
      </div>
    </main>
  );
}

function Node(props: {
  label: string;
  note?: string;
  noteClass?: string;
  cls: string;
  nodeRef: string;
  selected: Selection;
  select: (s: Selection) => void;
}) {
  const current = props.selected?.ref === props.nodeRef;
  return (
    <>
      <button
        class="node"
        aria-current={current}
        data-ref={props.nodeRef}
        onClick={() => props.select({ cls: props.cls, ref: props.nodeRef })}
      >
        {props.label}
      </button>
      {props.note !== undefined && <span class={`state ${props.noteClass ?? ''}`}>{props.note}</span>}
    </>
  );
}

function Tree({
  live,
  poolRef,
  selected,
  select,
}: {
  live: Live;
  poolRef: string;
  selected: Selection;
  select: (s: Selection) => void;
}) {
  const pool = live.get('pool', poolRef) ?? {};
  const hosts = live.all('host').sort((a, b) => text(a[1].name_label).localeCompare(text(b[1].name_label)));
  const vms = live.all('VM').filter(([, v]) => isGuest(v));
  const byName = (a: [string, Rec], b: [string, Rec]) =>
    text(a[1].name_label).localeCompare(text(b[1].name_label));
  const srs = live.all('SR').sort(byName);
  const nowhere = vms.filter(([, v]) => live.get('host', v.resident_on) === undefined).sort(byName);
  return (
    <aside class="tree" aria-label="pool tree">
      <ul>
        <li>
          <Node
            label={text(pool.name_label) || 'pool'}
            cls="pool"
            nodeRef={poolRef}
            selected={selected}
            select={select}
          />
          <ul>
            {hosts.map(([ref, h]) => {
              const metrics = live.get('host_metrics', h.metrics);
              const liveNow = metrics?.live === true;
              const master = pool.master === ref;
              return (
                <li key={ref}>
                  <Node
                    label={text(h.name_label)}
                    note={`${master ? 'master · ' : ''}${liveNow ? 'live' : 'dead'}${h.enabled === false ? ' · disabled' : ''}`}
                    noteClass={liveNow ? '' : 'dead'}
                    cls="host"
                    nodeRef={ref}
                    selected={selected}
                    select={select}
                  />
                  <ul>
                    {vms
                      .filter(([, v]) => v.resident_on === ref)
                      .sort(byName)
                      .map(([vref, v]) => (
                        <li key={vref}>
                          <Node
                            label={text(v.name_label)}
                            note={text(v.power_state)}
                            cls="VM"
                            nodeRef={vref}
                            selected={selected}
                            select={select}
                          />
                        </li>
                      ))}
                  </ul>
                </li>
              );
            })}
            {nowhere.map(([vref, v]) => (
              <li key={vref}>
                <Node
                  label={text(v.name_label)}
                  note={text(v.power_state)}
                  cls="VM"
                  nodeRef={vref}
                  selected={selected}
                  select={select}
                />
              </li>
            ))}
            {srs.map(([ref, s]) => (
              <li key={ref}>
                <Node
                  label={text(s.name_label)}
                  note={`${text(s.type)}${s.shared === true ? ' · shared' : ''}`}
                  cls="SR"
                  nodeRef={ref}
                  selected={selected}
                  select={select}
                />
              </li>
            ))}
          </ul>
        </li>
      </ul>
    </aside>
  );
}

/** The fields shown on an object's General tab, per class. */
const GENERAL: Record<string, string[]> = {
  pool: ['name_label', 'name_description', 'uuid', 'master', 'default_SR', 'epoch', 'replication_degraded'],
  host: [
    'name_label',
    'uuid',
    'address',
    'hostname',
    'enabled',
    'memory_overhead',
    'API_version_major',
    'API_version_minor',
  ],
  VM: [
    'name_label',
    'name_description',
    'uuid',
    'power_state',
    'resident_on',
    'memory_static_max',
    'VCPUs_max',
    'affinity',
  ],
  SR: ['name_label', 'uuid', 'type', 'shared', 'content_type', 'physical_size', 'physical_utilisation'],
};

function show(live: Live, v: unknown): string {
  if (typeof v === 'string' && v.startsWith('OpaqueRef:')) {
    for (const cls of ['host', 'SR', 'VM', 'pool', 'network']) {
      const r = live.get(cls, v);
      if (r !== undefined) return text(r.name_label ?? r.uuid);
    }
    return v === 'OpaqueRef:NULL' ? '—' : v;
  }
  return text(v);
}

function Details({
  session,
  live,
  sel,
}: {
  session: Session;
  live: Live;
  sel: { cls: string; ref: string };
}) {
  const rec = live.get(sel.cls, sel.ref);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState<string | undefined>(undefined);
  useEffect(() => setError(undefined), [sel.ref]);
  if (rec === undefined) return <section>Nothing selected.</section>;
  const act = async (label: string, method: string, ...params: unknown[]) => {
    setBusy(label);
    setError(undefined);
    try {
      await session.call(method, sel.ref, ...params);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(undefined);
    }
  };
  const button = (label: string, method: string, ...params: unknown[]) => (
    <button
      key={label}
      aria-busy={busy === label}
      disabled={busy !== undefined}
      onClick={() => void act(label, method, ...params)}
    >
      {label}
    </button>
  );
  const actions: Record<string, () => preact.JSX.Element[]> = {
    VM: () =>
      rec.power_state === 'Halted'
        ? [button('Start', 'VM.start', false, false)]
        : rec.power_state === 'Running'
          ? [
              button('Shut down', 'VM.clean_shutdown'),
              button('Reboot', 'VM.clean_reboot'),
              button('Suspend', 'VM.suspend'),
            ]
          : rec.power_state === 'Suspended'
            ? [button('Resume', 'VM.resume', false, false)]
            : [],
    host: () => [rec.enabled === true ? button('Disable', 'host.disable') : button('Enable', 'host.enable')],
    SR: () => [button('Scan', 'SR.scan')],
  };
  return (
    <section aria-label="details">
      <h2>
        {text(rec.name_label ?? sel.cls)} <small>{sel.cls}</small>
      </h2>
      <div role="group">{actions[sel.cls]?.() ?? []}</div>
      {error !== undefined && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      <table class="props">
        <tbody>
          {(GENERAL[sel.cls] ?? Object.keys(rec)).map((k) => (
            <tr key={k}>
              <td>{k}</td>
              <td data-field={k}>{show(live, rec[k])}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
