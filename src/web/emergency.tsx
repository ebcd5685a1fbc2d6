// A member's own console when its master is gone (the guide's "master failed, members are
// running"): log in locally, see that the master does not answer, take over as master (typed
// confirmation: the old master's address), then point the other members at this host. After the
// take-over the full console opens on this host.
import { useEffect, useState } from 'preact/hooks';
import { TypedConfirm } from './actions.js';
import { call, Session } from './xapi.js';

export function Emergency(props: {
  master: string;
  user: string;
  password: string;
  onMaster: (s: Session) => void;
}) {
  const [session, setSession] = useState<string | undefined>(undefined);
  const [emergency, setEmergency] = useState<boolean | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [recovered, setRecovered] = useState<string[] | undefined>(undefined);
  useEffect(() => {
    void (async () => {
      try {
        const ref = await call<string>('session.slave_local_login_with_password', [
          props.user,
          props.password,
        ]);
        setSession(ref);
        setEmergency(await call<boolean>('host.is_in_emergency_mode', [ref]));
      } catch (e) {
        setError(e instanceof Error ? e.message : String(e));
      }
    })();
  }, [props.user, props.password]);
  const takeOver = async (force: boolean) => {
    await call('pool.emergency_transition_to_master', [session, force]);
    const master = await Session.login(props.user, props.password);
    setRecovered(await master.call<string[]>('pool.recover_slaves'));
    props.onMaster(master);
  };
  return (
    <main class="container">
      <h1>Poolstack: emergency</h1>
      <p>
        This host is a member of a pool whose master is <strong>{props.master}</strong>.{' '}
        {emergency === true
          ? 'The master is not answering: this host is in emergency mode.'
          : emergency === false
            ? 'The master answers: use its console.'
            : ''}
      </p>
      {emergency === false && <a href={`https://${props.master}/`}>Go to the master</a>}
      {error !== undefined && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      {emergency === true && (
        <article aria-label="take over">
          <header>Make this host the master</header>
          <p>
            This host takes over if the master really does not answer, a majority of the pool can be reached,
            and no reachable host holds newer data. The other members are then pointed at it.
          </p>
          <TypedConfirm
            action="Take over as master"
            name={props.master}
            warning={`Replaces ${props.master} as master. If ${props.master} comes back it will follow this host.`}
            run={() => takeOver(false)}
          />
          <details>
            <summary>Force it</summary>
            <p>
              Skips the checks above. Only when you are sure the old master is off and you accept losing what
              only it held.
            </p>
            <TypedConfirm
              action="Take over anyway"
              name={props.master}
              warning={`Skips every check: the writes only ${props.master} held may be lost.`}
              run={() => takeOver(true)}
            />
          </details>
        </article>
      )}
      {recovered !== undefined && <p role="status">Members pointed at this host: {recovered.length}</p>}
    </main>
  );
}
