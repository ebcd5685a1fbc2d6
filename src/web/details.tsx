// The selected object's page: its actions, then tabs for its general properties, storage,
// networking and messages. Everything reads from Live, so it follows the pool as it changes.
import { useEffect, useState } from 'preact/hooks';
import { ActionButton } from './actions.js';
import { byName, show, text } from './format.js';
import type { Live, Rec } from './live.js';
import { PoolTools } from './pool-tools.js';
import type { Session } from './xapi.js';

export type Selected = { cls: string; ref: string };

/** The fields of the General tab, per class. */
const GENERAL: Record<string, string[]> = {
  pool: [
    'name_label',
    'name_description',
    'uuid',
    'master',
    'default_SR',
    'replication_degraded',
    'other_config',
  ],
  host: ['name_label', 'uuid', 'address', 'hostname', 'enabled', 'replica_lag', 'memory_overhead'],
  VM: [
    'name_label',
    'name_description',
    'uuid',
    'power_state',
    'resident_on',
    'affinity',
    'memory_static_max',
    'VCPUs_max',
  ],
  SR: ['name_label', 'uuid', 'type', 'shared', 'content_type', 'physical_size', 'physical_utilisation'],
};

const TABS = ['General', 'Storage', 'Networking', 'Messages'] as const;
type Tab = (typeof TABS)[number];

function Table({ live, rows }: { live: Live; rows: [string, unknown][] }) {
  return (
    <table class="props">
      <tbody>
        {rows.map(([k, v]) => (
          <tr key={k}>
            <td>{k}</td>
            <td data-field={k}>{show(live, v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function List({ head, rows }: { head: string[]; rows: { key: string; cells: preact.ComponentChild[] }[] }) {
  if (rows.length === 0) return <p>None.</p>;
  return (
    <table>
      <thead>
        <tr>
          {head.map((h) => (
            <th key={h}>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key}>
            {r.cells.map((c, i) => (
              <td key={i}>{c}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const refs = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : []);

function general(live: Live, sel: Selected, rec: Rec): [string, unknown][] {
  const rows: [string, unknown][] = (GENERAL[sel.cls] ?? Object.keys(rec)).map((k) => [k, rec[k]]);
  if (sel.cls === 'host') {
    const [, pool] = live.all('pool')[0] ?? ['', {}];
    rows.splice(1, 0, ['role', pool.master === sel.ref ? 'master' : 'member']);
    rows.splice(2, 0, ['live', live.get('host_metrics', rec.metrics)?.live === true]);
  }
  return rows;
}

function storage(session: Session, live: Live, sel: Selected, rec: Rec) {
  if (sel.cls === 'VM')
    return (
      <List
        head={['device', 'disk', 'SR', 'size', 'mode', 'attached']}
        rows={refs(rec.VBDs).map((ref) => {
          const vbd = live.get('VBD', ref) ?? {};
          const vdi = live.get('VDI', vbd.VDI) ?? {};
          return {
            key: ref,
            cells: [
              text(vbd.userdevice),
              text(vdi.name_label),
              show(live, vdi.SR),
              text(vdi.virtual_size),
              text(vbd.mode),
              text(vbd.currently_attached),
            ],
          };
        })}
      />
    );
  if (sel.cls === 'SR')
    return (
      <>
        <h4>Hosts</h4>
        <List
          head={['host', 'attached', '']}
          rows={refs(rec.PBDs).map((ref) => {
            const pbd = live.get('PBD', ref) ?? {};
            const attached = pbd.currently_attached === true;
            return {
              key: ref,
              cells: [
                show(live, pbd.host),
                text(attached),
                <ActionButton
                  key="a"
                  class="secondary"
                  label={attached ? 'Unplug' : 'Plug'}
                  run={() => session.call(attached ? 'PBD.unplug' : 'PBD.plug', ref)}
                />,
              ],
            };
          })}
        />
        <h4>Disks</h4>
        <List
          head={['name', 'size', 'used by']}
          rows={refs(rec.VDIs).map((ref) => {
            const vdi = live.get('VDI', ref) ?? {};
            const vms = refs(vdi.VBDs).map((b) => show(live, live.get('VBD', b)?.VM));
            return { key: ref, cells: [text(vdi.name_label), text(vdi.virtual_size), vms.join(', ')] };
          })}
        />
      </>
    );
  if (sel.cls === 'host')
    return (
      <List
        head={['SR', 'type', 'attached']}
        rows={live
          .all('PBD')
          .filter(([, p]) => p.host === sel.ref)
          .map(([ref, p]) => ({
            key: ref,
            cells: [show(live, p.SR), text(live.get('SR', p.SR)?.type), text(p.currently_attached)],
          }))}
      />
    );
  return <p>See each SR in the tree.</p>;
}

function networking(live: Live, sel: Selected, rec: Rec) {
  if (sel.cls === 'VM')
    return (
      <List
        head={['device', 'network', 'MAC', 'attached']}
        rows={refs(rec.VIFs).map((ref) => {
          const vif = live.get('VIF', ref) ?? {};
          return {
            key: ref,
            cells: [text(vif.device), show(live, vif.network), text(vif.MAC), text(vif.currently_attached)],
          };
        })}
      />
    );
  return (
    <List
      head={['network', 'bridge', 'MTU']}
      rows={live
        .all('network')
        .sort(byName)
        .map(([ref, n]) => ({ key: ref, cells: [text(n.name_label), text(n.bridge), text(n.MTU)] }))}
    />
  );
}

function messages(live: Live, sel: Selected, rec: Rec) {
  const mine = live
    .all('message')
    .filter(([, m]) => sel.cls === 'pool' || m.obj_uuid === rec.uuid)
    .sort((a, b) => text(b[1].timestamp).localeCompare(text(a[1].timestamp)));
  return (
    <List
      head={['time', 'name', 'priority', 'body']}
      rows={mine.map(([ref, m]) => ({
        key: ref,
        cells: [text(m.timestamp), text(m.name), text(m.priority), text(m.body)],
      }))}
    />
  );
}

function actions(session: Session, sel: Selected, rec: Rec) {
  const call = (label: string, method: string, ...params: unknown[]) => (
    <ActionButton key={label} label={label} run={() => session.call(method, sel.ref, ...params)} />
  );
  if (sel.cls === 'VM') {
    if (rec.power_state === 'Halted') return [call('Start', 'VM.start', false, false)];
    if (rec.power_state === 'Running')
      return [
        call('Shut down', 'VM.clean_shutdown'),
        call('Reboot', 'VM.clean_reboot'),
        call('Suspend', 'VM.suspend'),
      ];
    if (rec.power_state === 'Suspended') return [call('Resume', 'VM.resume', false, false)];
    return [];
  }
  if (sel.cls === 'host')
    return [
      rec.enabled === true ? call('Disable', 'host.disable') : call('Enable', 'host.enable'),
      call('Evacuate', 'host.evacuate'),
    ];
  if (sel.cls === 'SR') return [call('Scan', 'SR.scan')];
  return [];
}

export function Details({ session, live, sel }: { session: Session; live: Live; sel: Selected }) {
  const [tab, setTab] = useState<Tab>('General');
  useEffect(() => setTab('General'), [sel.ref]);
  const rec = live.get(sel.cls, sel.ref);
  if (rec === undefined) return <section>Nothing selected.</section>;
  return (
    <section aria-label="details">
      <h2>
        {text(rec.name_label) || sel.cls} <small>{sel.cls}</small>
      </h2>
      <div class="actions">{actions(session, sel, rec)}</div>
      <nav class="tabs" aria-label="tabs">
        {TABS.map((t) => (
          <button
            key={t}
            class={t === tab ? '' : 'outline'}
            aria-pressed={t === tab}
            onClick={() => setTab(t)}
          >
            {t}
          </button>
        ))}
      </nav>
      {tab === 'General' && <Table live={live} rows={general(live, sel, rec)} />}
      {tab === 'General' && sel.cls === 'pool' && <PoolTools session={session} live={live} />}
      {tab === 'Storage' && storage(session, live, sel, rec)}
      {tab === 'Networking' && networking(live, sel, rec)}
      {tab === 'Messages' && messages(live, sel, rec)}
    </section>
  );
}
