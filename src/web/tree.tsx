// The pool tree: the pool, its hosts (the master marked, each live or dead, disabled ones said),
// the VMs running on each, the VMs running nowhere, and the SRs (local ones under their host).
import type { Selected } from './details.js';
import { byName, isGuest, text } from './format.js';
import type { Live, Rec } from './live.js';

function Node(props: {
  label: string;
  note?: string;
  dead?: boolean;
  sel: Selected;
  current: Selected;
  select: (s: Selected) => void;
}) {
  return (
    <>
      <button
        class="node"
        aria-current={props.current.ref === props.sel.ref}
        data-ref={props.sel.ref}
        onClick={() => props.select(props.sel)}
      >
        {props.label}
      </button>
      {props.note !== undefined && (
        <span class={props.dead === true ? 'state dead' : 'state'}>{props.note}</span>
      )}
    </>
  );
}

export function Tree({
  live,
  current,
  select,
}: {
  live: Live;
  current: Selected;
  select: (s: Selected) => void;
}) {
  const [poolRef, pool] = live.all('pool')[0] ?? ['', {}];
  const vms = live
    .all('VM')
    .filter(([, v]) => isGuest(v))
    .sort(byName);
  const srs = live.all('SR').sort(byName);
  /** A local SR's one host; undefined for shared SRs. */
  const hostOf = (sr: Rec) =>
    sr.shared === true ? undefined : live.get('PBD', (sr.PBDs as string[] | undefined)?.[0])?.host;
  const vm = ([ref, v]: [string, Rec]) => (
    <li key={ref}>
      <Node
        label={text(v.name_label)}
        note={text(v.power_state)}
        sel={{ cls: 'VM', ref }}
        current={current}
        select={select}
      />
    </li>
  );
  const sr = ([ref, s]: [string, Rec]) => (
    <li key={ref}>
      <Node
        label={text(s.name_label)}
        note={`${text(s.type)}${s.shared === true ? ' · shared' : ''}${ref === pool.default_SR ? ' · default' : ''}`}
        sel={{ cls: 'SR', ref }}
        current={current}
        select={select}
      />
    </li>
  );
  return (
    <aside class="tree" aria-label="pool tree">
      <ul>
        <li>
          <Node
            label={text(pool.name_label) || 'pool'}
            sel={{ cls: 'pool', ref: poolRef }}
            current={current}
            select={select}
          />
          <ul>
            {live
              .all('host')
              .sort(byName)
              .map(([ref, h]) => {
                const alive = live.get('host_metrics', h.metrics)?.live === true;
                const note = [
                  pool.master === ref ? 'master' : '',
                  alive ? 'live' : 'dead',
                  h.enabled === false ? 'disabled' : '',
                ]
                  .filter((x) => x !== '')
                  .join(' · ');
                return (
                  <li key={ref}>
                    <Node
                      label={text(h.name_label)}
                      note={note}
                      dead={!alive}
                      sel={{ cls: 'host', ref }}
                      current={current}
                      select={select}
                    />
                    <ul>
                      {vms.filter(([, v]) => v.resident_on === ref).map(vm)}
                      {srs.filter(([, s]) => hostOf(s) === ref).map(sr)}
                    </ul>
                  </li>
                );
              })}
            {vms.filter(([, v]) => live.get('host', v.resident_on) === undefined).map(vm)}
            {srs.filter(([, s]) => hostOf(s) === undefined).map(sr)}
          </ul>
        </li>
      </ul>
    </aside>
  );
}
