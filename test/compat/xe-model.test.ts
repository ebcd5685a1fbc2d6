// Proves, by walking the datamodel against a real poolstackd, that every class xe exposes has its seven generic commands with xe's required parameters, and that every field of the class appears in `<class>-param-list` for a real object with the marker the model implies (RW iff the field is RW or has an explicit set_<field> message; M for maps, S for sets), laid out in xe's aligned record format.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exposed } from '../../src/cli/generic.js';
import { cliFieldName, isHiddenField } from '../../src/cli/records.js';
import type { ClassDef } from '../../src/model/define.js';
import { classes } from '../../src/model/index.js';
import type { XapiClient } from '../../src/rpc/client.js';
import { startDaemonProcess, type DaemonHandle } from '../../src/testing/daemon-process.js';
import { apiClient, finish, splitMinimal, tracker, Xe } from './xe-helpers.js';

const SUITE_TIMEOUT_MS = 180_000;

/** The generic commands and their required parameters (cli_operations.ml make_param_funs). */
const generic: Record<string, string> = {
  list: '',
  'param-list': 'uuid',
  'param-get': 'uuid, param-name',
  'param-set': 'uuid',
  'param-add': 'uuid, param-name',
  'param-remove': 'uuid, param-name, param-key',
  'param-clear': 'uuid, param-name',
};

function cliClass(cls: string): string {
  return cls.toLowerCase().replace(/_/g, '-');
}

/** The marker the model implies for one field. */
function expectedMarker(def: ClassDef, field: string): string {
  const f = def.fields[field];
  assert.ok(f, `${def.name}.${field}`);
  const rw = f.qualifier === 'RW' || def.messages[`set_${field}`] !== undefined ? 'RW' : 'RO';
  const kind = f.ty.kind === 'map' ? 'M' : f.ty.kind === 'set' ? 'S' : ' ';
  return `(${kind}${rw})`;
}

interface ParsedLine {
  name: string;
  marker: string;
  colon: number;
  leading: number;
}

const KEY_LINE = /^( *)(\S+) (\( RO\)|\( RW\)|\(MRO\)|\(MRW\)|\(SRO\)|\(SRW\))( \[DEPRECATED\])?( *): /;

/** Parses one record of xe's layout; checks the alignment rules on the way. */
function parseRecord(text: string, where: string): Map<string, ParsedLine> {
  assert.ok(text.endsWith('\n\n\n'), `${where}: a record ends with two blank lines`);
  const lines = text.slice(0, -3).split('\n');
  const parsed: ParsedLine[] = [];
  for (const line of lines) {
    const m = KEY_LINE.exec(line);
    if (m === null) continue;
    const [whole, lead = '', name = '', marker = ''] = m;
    parsed.push({ name, marker, colon: whole.length - 2, leading: lead.length });
  }
  assert.ok(parsed.length > 0, `${where}: no key lines`);
  const width = 4 + Math.max(...parsed.map((p) => p.name.length + 1 + p.marker.length));
  parsed.forEach((p, i) => {
    assert.equal(p.colon, width, `${where}: ${p.name}: the colon sits at 4 + the longest key`);
    if (i === 0) assert.equal(p.leading, 0, `${where}: the first key is left-aligned`);
    else
      assert.equal(
        p.leading + p.name.length + 1 + p.marker.length,
        width,
        `${where}: ${p.name} right-aligned`,
      );
  });
  const out = new Map<string, ParsedLine>();
  for (const p of parsed) {
    assert.ok(!out.has(p.name), `${where}: ${p.name} printed twice`);
    out.set(p.name, p);
  }
  return out;
}

describe('xe generic commands cover the datamodel', { timeout: SUITE_TIMEOUT_MS }, () => {
  let daemon: DaemonHandle | undefined;
  let xe: Xe | undefined;
  let api: XapiClient | undefined;
  const { failed, track } = tracker();
  /** One real object per exposed class: class → uuid. */
  const objects = new Map<string, string>();

  before(async () => {
    daemon = await startDaemonProcess({ name: 'xe-model' });
    xe = new Xe(daemon);
    api = await apiClient(daemon);
    const x = xe;
    const vm = (await x.ok(['vm-install', 'template=Debian Bookworm 12', 'new-name-label=model-vm'])).trim();
    const vmRef = (await api.callSession('VM.get_by_uuid', vm)) as string;
    const sr = (await x.minimal(['sr-list']))[0] ?? '';
    const net = (await x.ok(['network-create', 'name-label=model-net'])).trim();
    await x.ok(['vif-create', 'device=0', `network-uuid=${net}`, `vm-uuid=${vm}`]);
    await x.ok(['vdi-create', `sr-uuid=${sr}`, 'name-label=model-disk', 'virtual-size=1GiB']);
    await api.callSession('task.create', 'model-task', 'a task for the model test');
    await api.callSession('message.create', 'MODEL_MESSAGE', 3, 'VM', vm, 'a message for the model test');
    await api.callSession('secret.create', { value: 's3cret', other_config: {} });
    await api.callSession('console.create', {
      protocol: 'rfb',
      location: 'vnc://model',
      VM: vmRef,
      other_config: {},
    });
    for (const cls of Object.keys(exposed)) {
      const uuids = await x.minimal([`${cliClass(cls)}-list`]);
      const first = cls === 'VM' ? vm : uuids[0];
      assert.ok(first !== undefined, `an object of class ${cls} to inspect`);
      objects.set(cls, first);
    }
  });

  after(async () => {
    if (api !== undefined) {
      await api.logout().catch(() => undefined);
      api.close();
    }
    xe?.cleanup();
    await finish(daemon, 'xe-model', failed());
  });

  it(
    'every exposed class is a datamodel class with fields',
    track(async () => {
      for (const cls of Object.keys(exposed)) {
        const def = (classes as Record<string, ClassDef>)[cls];
        assert.ok(def !== undefined && Object.keys(def.fields).length > 0, `${cls} is an object class`);
      }
      await Promise.resolve();
    }),
  );

  it(
    'xe help --all --minimal lists the seven generic commands of every exposed class',
    track(async () => {
      assert.ok(xe);
      const all = new Set(splitMinimal((await xe.ok(['help', '--all', '--minimal'])).trim()));
      for (const cls of Object.keys(exposed)) {
        for (const suffix of Object.keys(generic)) {
          const name = `${cliClass(cls)}-${suffix}`;
          assert.ok(all.has(name), `xe help --all --minimal lists ${name}`);
        }
      }
    }),
  );

  it(
    "xe help <command> gives each generic command xe's required parameters; -list offers every field",
    track(async () => {
      assert.ok(xe);
      for (const [cls, def] of Object.entries(exposed).map(
        ([c]) => [c, classes[c as keyof typeof classes]] as const,
      )) {
        const names = Object.keys(generic).map((s) => `${cliClass(cls)}-${s}`);
        const text = await xe.ok(['help', ...names]);
        const records = text.split('\n\n\n').filter((r) => r.trim() !== '');
        assert.equal(records.length, names.length, `one help record per command for ${cls}`);
        for (const [i, rec] of records.entries()) {
          const get = (key: string) => new RegExp(`^ *${key} *: (.*)$`, 'm').exec(rec)?.[1];
          const name = names[i] ?? '';
          assert.equal(get('command name'), name);
          assert.equal(
            get('reqd params'),
            generic[name.slice(cliClass(cls).length + 1)],
            `${name} reqd params`,
          );
          if (name.endsWith('-list') && !name.endsWith('-param-list')) {
            const optional = (get('optional params') ?? '').split(', ');
            assert.ok(optional.includes('params'), `${name} takes params=`);
            for (const f of Object.keys(def.fields).filter((k) => !isHiddenField(cls, k))) {
              assert.ok(
                optional.includes(cliFieldName(f, cls)),
                `${name} offers ${cliFieldName(f, cls)} as a filter`,
              );
            }
          }
        }
      }
    }),
  );

  for (const cls of Object.keys(exposed)) {
    it(
      `${cliClass(cls)}-param-list shows every ${cls} field with the right marker`,
      track(async () => {
        assert.ok(xe);
        const def = (classes as Record<string, ClassDef>)[cls];
        assert.ok(def);
        const uuid = objects.get(cls);
        assert.ok(uuid);
        const out = await xe.ok([`${cliClass(cls)}-param-list`, `uuid=${uuid}`]);
        const printed = parseRecord(out, `${cls} ${uuid}`);
        assert.equal([...printed.keys()][0], 'uuid', 'uuid comes first');
        for (const f of Object.keys(def.fields)) {
          const name = cliFieldName(f, cls);
          if (isHiddenField(cls, f)) {
            assert.ok(!printed.has(name), `${cliClass(cls)}-param-list hides ${name} as xe does`);
            continue;
          }
          const line = printed.get(name);
          assert.ok(line, `${cliClass(cls)}-param-list prints ${name} (field ${f})`);
          assert.equal(line.marker, expectedMarker(def, f), `${cls}.${f} printed as ${name}`);
        }
      }),
    );
  }

  it(
    "uses xe's own names where they differ from the API's",
    track(async () => {
      assert.ok(xe);
      const names = async (cls: string) =>
        parseRecord(await xe!.ok([`${cliClass(cls)}-param-list`, `uuid=${objects.get(cls) ?? ''}`]), cls);
      const expect: Record<string, string[]> = {
        VM: ['name-label', 'power-state', 'dom-id', 'console-uuids', 'suspend-VDI-uuid', 'other-config'],
        host: ['cpu_info', 'resident-vms', 'control-domain-uuid'],
        pool: ['default-SR', 'cpu_info'],
        SR: ['host'],
        VDI: ['sr-uuid', 'vbd-uuids'],
        VBD: ['vm-uuid', 'vdi-uuid', 'qos_algorithm_type'],
        PBD: ['host-uuid', 'sr-uuid'],
        PIF: ['network-uuid', 'host-uuid', 'IP-configuration-mode'],
        VIF: ['vm-uuid', 'network-uuid'],
        network: ['VIF-uuids', 'PIF-uuids'],
        task: ['error_info', 'subtask_of'],
        message: ['class', 'obj-uuid'],
        console: ['vm-uuid'],
      };
      for (const [cls, want] of Object.entries(expect)) {
        const printed = await names(cls);
        for (const n of want) assert.ok(printed.has(n), `${cliClass(cls)}-param-list prints ${n}`);
      }
    }),
  );
});
