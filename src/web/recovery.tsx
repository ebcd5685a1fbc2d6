// The recovery view: what has failed and what to do about it, in the order of the guide's
// procedures. A dead host's VMs stay Running in the database until they are reset (or the host is
// declared dead); their disks' leases say when another host may start them; default-SR must name
// a usable SR. Destructive steps ask for the object's name to be typed.
import { ActionButton, TypedConfirm } from './actions.js';
import { byName, isGuest, show, text } from './format.js';
import type { Live, Rec } from './live.js';
import type { Session } from './xapi.js';

function deadHosts(live: Live): [string, Rec][] {
  return live
    .all('host')
    .filter(([, h]) => live.get('host_metrics', h.metrics)?.live !== true)
    .sort(byName);
}

/** VDIs whose lease a dead host still holds, with when it expires. */
function heldLeases(live: Live, hosts: Set<string>): [string, Rec][] {
  return live.all('VDI').filter(([, v]) => typeof v.lease_holder === 'string' && hosts.has(v.lease_holder));
}

function defaultSrProblem(live: Live): string | undefined {
  const [, pool] = live.all('pool')[0] ?? ['', {}];
  const sr = live.get('SR', pool.default_SR);
  if (pool.default_SR === undefined || pool.default_SR === 'OpaqueRef:NULL')
    return 'The pool has no default SR.';
  if (sr === undefined) return 'The default SR no longer exists.';
  const plugged = ((sr.PBDs as string[] | undefined) ?? []).some(
    (p) => live.get('PBD', p)?.currently_attached === true,
  );
  return plugged ? undefined : `The default SR ${text(sr.name_label)} is not plugged on any host.`;
}

/** How many problems the recovery view lists (shown on its tab). */
export function problemCount(live: Live): number {
  const dead = deadHosts(live);
  const stuck = live
    .all('VM')
    .filter(([, v]) => isGuest(v) && v.power_state === 'Running' && dead.some(([h]) => h === v.resident_on));
  return dead.length + stuck.length + (defaultSrProblem(live) === undefined ? 0 : 1);
}

export function Recovery({ session, live }: { session: Session; live: Live }) {
  const dead = deadHosts(live);
  const deadRefs = new Set(dead.map(([r]) => r));
  const halted = live
    .all('VM')
    .filter(([, v]) => isGuest(v) && v.power_state === 'Halted')
    .sort(byName);
  const leases = heldLeases(live, deadRefs);
  const srProblem = defaultSrProblem(live);
  const [poolRef] = live.all('pool')[0] ?? [''];
  const usableSrs = live
    .all('SR')
    .filter(([, s]) =>
      ((s.PBDs as string[] | undefined) ?? []).some((p) => live.get('PBD', p)?.currently_attached === true),
    )
    .sort(byName);
  return (
    <section aria-label="recovery">
      <h2>Recovery</h2>
      {dead.length === 0 && srProblem === undefined && (
        <p>Every host is live and default-SR is usable: nothing to recover.</p>
      )}
      {dead.map(([ref, h]) => {
        const vms = live
          .all('VM')
          .filter(([, v]) => isGuest(v) && v.resident_on === ref && v.power_state !== 'Halted')
          .sort(byName);
        return (
          <article key={ref} aria-label={`dead host ${text(h.name_label)}`}>
            <header>
              <strong>{text(h.name_label)}</strong> is dead ({text(h.address)})
            </header>
            <p>
              {vms.length === 0
                ? 'No VM is recorded as running on it.'
                : `${vms.length} VM(s) are still recorded as running on it. They are not: the host is gone. Reset them, then start them on another host.`}
            </p>
            <ul>
              {vms.map(([vref, v]) => (
                <li key={vref} data-vm={text(v.name_label)}>
                  {text(v.name_label)} — {text(v.power_state)}{' '}
                  <TypedConfirm
                    action="Reset power state"
                    name={text(v.name_label)}
                    warning={`Marks ${text(v.name_label)} Halted. Only do this if ${text(h.name_label)} is really off: its disk leases keep the VM from running twice, but the database is changed at once.`}
                    run={() => session.call('VM.power_state_reset', vref)}
                  />
                </li>
              ))}
            </ul>
            {vms.length > 0 ? (
              <TypedConfirm
                action="Declare dead"
                name={text(h.name_label)}
                warning={`Declares ${text(h.name_label)} dead and resets every VM recorded as running on it.`}
                run={() => session.call('host.declare_dead', ref)}
              />
            ) : (
              <TypedConfirm
                action="Forget host"
                name={text(h.name_label)}
                warning={`Removes ${text(h.name_label)} from the pool for good. A repaired machine joins again with pool-join; keep it if it will come back as it is.`}
                run={() => session.call('host.forget', ref)}
              />
            )}
          </article>
        );
      })}
      {leases.length > 0 && (
        <article aria-label="leases">
          <header>Disk leases still held by dead hosts</header>
          <p>
            A VM using one of these disks starts elsewhere once the lease has expired; the start waits for it.
          </p>
          <ul>
            {leases.map(([ref, v]) => (
              <li key={ref}>
                {text(v.name_label)}: held by {show(live, v.lease_holder)}, expires {text(v.lease_expires)}
              </li>
            ))}
          </ul>
        </article>
      )}
      {srProblem !== undefined && (
        <article aria-label="default SR">
          <header>default-SR</header>
          <p>{srProblem}</p>
          <div role="group">
            {usableSrs.map(([ref, s]) => (
              <ActionButton
                key={ref}
                class="secondary"
                label={`Use ${text(s.name_label)}`}
                run={() => session.call('pool.set_default_SR', poolRef, ref)}
              />
            ))}
          </div>
        </article>
      )}
      {dead.length > 0 && halted.length > 0 && (
        <article aria-label="start elsewhere">
          <header>Halted VMs</header>
          <p>Start them again: each goes to a live host that sees its storage.</p>
          <ul>
            {halted.map(([ref, v]) => (
              <li key={ref} data-vm={text(v.name_label)}>
                {text(v.name_label)}{' '}
                <ActionButton
                  class="secondary"
                  label="Start"
                  run={() => session.call('VM.start', ref, false, false)}
                />
              </li>
            ))}
          </ul>
        </article>
      )}
    </section>
  );
}
