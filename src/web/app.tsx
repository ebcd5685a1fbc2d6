// The console's pages: login, then the pool tree (pool → hosts → their VMs, SRs) beside the
// selected object's properties and actions. All state comes from Live (event.from), so what is
// shown follows the pool without reloads.
import { useEffect, useState } from 'preact/hooks';
import { FieldError } from './actions.js';
import { Details, type Selected } from './details.js';
import { Emergency } from './emergency.js';
import { text } from './format.js';
import { Live } from './live.js';
import { problemCount, Recovery } from './recovery.js';
import { Tree } from './tree.js';
import { Session, XapiError } from './xapi.js';

export function App() {
  const [state, setState] = useState<
    { session: Session; live: Live } | { member: string; user: string; password: string } | undefined
  >(undefined);
  const open = async (session: Session) => {
    const live = new Live(session);
    await live.start();
    setState({ session, live });
  };
  if (state === undefined)
    return (
      <Login onLogin={open} onMember={(member, user, password) => setState({ member, user, password })} />
    );
  if ('member' in state)
    return (
      <Emergency
        master={state.member}
        user={state.user}
        password={state.password}
        onMaster={(s) => void open(s)}
      />
    );
  return (
    <Shell
      session={state.session}
      live={state.live}
      onLogout={() => {
        state.live.stop();
        void state.session.logout();
        setState(undefined);
      }}
    />
  );
}

function Login(props: {
  onLogin: (s: Session) => Promise<void>;
  /** This host is a member: its master is at that address. */
  onMember: (master: string, user: string, password: string) => void;
}) {
  const [user, setUser] = useState('root');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await props.onLogin(await Session.login(user, password));
    } catch (err) {
      if (err instanceof XapiError && err.code === 'HOST_IS_SLAVE') {
        props.onMember(err.params[0] ?? '', user, password);
        return;
      }
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
          <FieldError error={error} />
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

function Shell({ session, live, onLogout }: { session: Session; live: Live; onLogout: () => void }) {
  useLive(live);
  const [view, setView] = useState<'pool' | 'recovery'>('pool');
  const [sel, setSel] = useState<Selected | undefined>(undefined);
  const [poolRef, pool] = live.all('pool')[0] ?? ['', {}];
  const current = sel ?? { cls: 'pool', ref: poolRef };
  const problems = problemCount(live);
  return (
    <main class="container-fluid">
      <nav>
        <ul>
          <li>
            <strong>Poolstack</strong> {text(pool.name_label)}
          </li>
          <li>
            <button
              class={view === 'pool' ? '' : 'outline'}
              aria-pressed={view === 'pool'}
              onClick={() => setView('pool')}
            >
              Pool
            </button>
          </li>
          <li>
            <button
              class={view === 'recovery' ? '' : 'outline'}
              aria-pressed={view === 'recovery'}
              onClick={() => setView('recovery')}
            >
              Recovery{problems > 0 ? ` (${problems})` : ''}
            </button>
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
        <Tree
          live={live}
          current={current}
          select={(s) => {
            setSel(s);
            setView('pool');
          }}
        />
        {view === 'pool' ? (
          <Details session={session} live={live} sel={current} />
        ) : (
          <Recovery session={session} live={live} />
        )}
      </div>
    </main>
  );
}
