// Proves that `kill -9` of poolstackd in the middle of a stream of concurrent writes loses no
// acknowledged write (and invents none), that an event.from token taken before the kill still works
// after the restart, and that running VMs keep running, with the same domid, across kill -9 and
// SIGTERM restarts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { XapiCallError, XapiClient } from '../../src/rpc/client.js';
import { startDaemonProcess, TEST_PASSWORD, type DaemonHandle } from '../../src/testing/daemon-process.js';
import { vmFields } from '../../src/testing/records.js';

const CALL_TIMEOUT_MS = 5_000;
/**
 * The writers run until the daemon is gone; the kill lands after KILL_AFTER_MS (the middle of a
 * ~2 s stream) once at least ACKED_BEFORE_KILL writes were acknowledged, waiting at most
 * KILL_LATEST_MS for that on a slow disk (every commit is fsynced).
 */
const KILL_AFTER_MS = 1_000;
const ACKED_BEFORE_KILL = 40;
const KILL_LATEST_MS = 6_000;
const NAME_WRITERS = 6;
const CONFIG_WRITERS = 3;
const CREATE_WRITERS = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function connect(d: DaemonHandle, transport: 'json' | 'xml' = 'json'): Promise<XapiClient> {
  const c = new XapiClient(d.httpUrl, { transport, timeoutMs: CALL_TIMEOUT_MS });
  await c.login('root', TEST_PASSWORD);
  return c;
}

/** Runs `body` with a daemon; keeps (and prints) the data dir when it throws, removes it otherwise. */
async function withDaemon(
  name: string,
  body: (first: DaemonHandle, track: (d: DaemonHandle) => void) => Promise<void>,
): Promise<void> {
  const first = await startDaemonProcess({ name });
  let current = first;
  try {
    await body(first, (d) => {
      current = d;
    });
  } catch (e) {
    console.log(`${name}: kept the data dir ${first.dataDir}`);
    await current.stop();
    throw e;
  }
  await current.stop();
  first.cleanup();
}

interface NameWriter {
  vm: string;
  initial: string;
  lastAcked: string | undefined;
  inFlight: string | undefined;
}
interface ConfigWriter {
  acked: { vm: string; key: string; value: string }[];
  inFlight: { vm: string; key: string; value: string } | undefined;
}
interface CreateWriter {
  acked: { ref: string; name: string }[];
  inFlight: string | undefined;
}

describe('durability of acknowledged writes across kill -9', { timeout: 55_000 }, () => {
  it('loses no acknowledged write and invents none; old event tokens still work', () =>
    withDaemon('durability-writes', async (d, track) => {
      const admin = await connect(d);
      const vms: string[] = [];
      for (let i = 0; i < NAME_WRITERS; i++)
        vms.push((await admin.callSession('VM.create', vmFields(`base-${i}`))) as string);
      const before = (await admin.callSession('event.from', ['vm'], '', 0.01)) as { token: string };
      const tokenBeforeKill = before.token;

      const apiErrors: string[] = [];
      let killed = false;
      /** Runs `step(seq)` until the daemon is gone; an API error before the kill is a test failure. */
      const loop = async (c: XapiClient, step: (seq: number) => Promise<void>) => {
        try {
          for (let seq = 0; ; seq++) await step(seq);
        } catch (e) {
          if (e instanceof XapiCallError) apiErrors.push(`${e.code}(${e.params.join(',')})`);
          else if (!killed) apiErrors.push(`transport error before the kill: ${String(e)}`);
        } finally {
          c.close();
        }
      };

      const names: NameWriter[] = vms.map((vm, i) => ({
        vm,
        initial: `base-${i}`,
        lastAcked: undefined,
        inFlight: undefined,
      }));
      const configs: ConfigWriter[] = Array.from({ length: CONFIG_WRITERS }, () => ({
        acked: [],
        inFlight: undefined,
      }));
      const creates: CreateWriter[] = Array.from({ length: CREATE_WRITERS }, () => ({
        acked: [],
        inFlight: undefined,
      }));
      const clients = await Promise.all(
        Array.from({ length: NAME_WRITERS + CONFIG_WRITERS + CREATE_WRITERS }, (_, i) =>
          connect(d, i % 2 === 0 ? 'json' : 'xml'),
        ),
      );
      const take = () => {
        const c = clients.shift();
        assert.ok(c !== undefined);
        return c;
      };
      const running: Promise<void>[] = [];
      names.forEach((w, i) => {
        const c = take();
        running.push(
          loop(c, async (seq) => {
            const value = `name-${i}-${seq}`;
            w.inFlight = value;
            await c.callSession('VM.set_name_label', w.vm, value);
            w.lastAcked = value;
            w.inFlight = undefined;
          }),
        );
      });
      configs.forEach((w, i) => {
        const c = take();
        running.push(
          loop(c, async (seq) => {
            const op = {
              vm: vms[(i + seq) % vms.length] ?? '',
              key: `key-${i}-${seq}`,
              value: `value-${i}-${seq}`,
            };
            w.inFlight = op;
            await c.callSession('VM.add_to_other_config', op.vm, op.key, op.value);
            w.acked.push(op);
            w.inFlight = undefined;
          }),
        );
      });
      creates.forEach((w, i) => {
        const c = take();
        running.push(
          loop(c, async (seq) => {
            const name = `created-${i}-${seq}`;
            w.inFlight = name;
            const ref = (await c.callSession('VM.create', vmFields(name))) as string;
            w.acked.push({ ref, name });
            w.inFlight = undefined;
          }),
        );
      });

      const acked = () =>
        names.filter((w) => w.lastAcked !== undefined).length +
        configs.reduce((n, w) => n + w.acked.length, 0) +
        creates.reduce((n, w) => n + w.acked.length, 0);
      const streamStart = Date.now();
      await sleep(KILL_AFTER_MS);
      while (
        acked() < ACKED_BEFORE_KILL &&
        Date.now() - streamStart < KILL_LATEST_MS &&
        apiErrors.length === 0
      )
        await sleep(20);
      const inFlightAtKill =
        names.filter((w) => w.inFlight !== undefined).length +
        configs.filter((w) => w.inFlight !== undefined).length +
        creates.filter((w) => w.inFlight !== undefined).length;
      killed = true;
      await d.kill();
      await Promise.all(running); // bounded: every call has CALL_TIMEOUT_MS
      admin.close();

      assert.deepEqual(apiErrors, [], 'no API errors while writing');
      const ackedCount = acked();
      assert.ok(ackedCount >= 10, `only ${ackedCount} writes were acknowledged before the kill`);
      assert.ok(inFlightAtKill >= 1, 'the kill landed while writes were in flight');
      console.log(`durability: ${ackedCount} acknowledged writes, ${inFlightAtKill} in flight at the kill`);

      const d2 = await d.restart();
      track(d2);
      const c = await connect(d2);
      try {
        // Names: the last acknowledged value, or the one write that was in flight (it may have landed).
        for (const w of names) {
          const actual = (await c.callSession('VM.get_name_label', w.vm)) as string;
          const allowed = [w.lastAcked ?? w.initial, ...(w.inFlight === undefined ? [] : [w.inFlight])];
          assert.ok(
            allowed.includes(actual),
            `VM ${w.vm}: name_label ${actual}, expected one of ${allowed.join(', ')}`,
          );
        }
        // other_config: every acknowledged key is there with its value; nothing else was invented.
        const configOf = new Map<string, Record<string, string>>();
        for (const vm of vms)
          configOf.set(vm, (await c.callSession('VM.get_other_config', vm)) as Record<string, string>);
        for (const w of configs) {
          for (const op of w.acked)
            assert.equal(configOf.get(op.vm)?.[op.key], op.value, `acknowledged key ${op.key} on ${op.vm}`);
        }
        const known = new Set(
          configs
            .flatMap((w) => [...w.acked, ...(w.inFlight === undefined ? [] : [w.inFlight])])
            .map((op) => `${op.vm}/${op.key}`),
        );
        for (const [vm, cfg] of configOf) {
          for (const key of Object.keys(cfg))
            assert.ok(known.has(`${vm}/${key}`), `other_config key ${key} on ${vm} was never written`);
        }
        // Created VMs: every acknowledged one exists; any other was the in-flight create.
        const all = (await c.callSession('VM.get_all_records')) as Record<
          string,
          { name_label: string; power_state: string }
        >;
        for (const w of creates) {
          for (const v of w.acked) {
            assert.equal(all[v.ref]?.name_label, v.name, `acknowledged VM.create ${v.name} (${v.ref})`);
            assert.equal(all[v.ref]?.power_state, 'Halted');
          }
        }
        const ackedRefs = new Set(creates.flatMap((w) => w.acked.map((v) => v.ref)));
        const inFlightNames = new Set(creates.map((w) => w.inFlight).filter((n) => n !== undefined));
        for (const [ref, rec] of Object.entries(all)) {
          if (!rec.name_label.startsWith('created-') || ackedRefs.has(ref)) continue;
          assert.ok(
            inFlightNames.has(rec.name_label),
            `VM ${rec.name_label} (${ref}) was never acknowledged nor in flight`,
          );
        }

        // The token from before the kill parses and reports the changes made after it.
        type Ev = { class: string; operation: string; ref: string };
        const r = (await c.callSession('event.from', ['vm'], tokenBeforeKill, 0.01)) as {
          events: Ev[];
          token: string;
        };
        const seen = new Map(r.events.map((e) => [e.ref, e.operation]));
        for (const w of creates)
          for (const v of w.acked) assert.equal(seen.get(v.ref), 'add', `event for created ${v.name}`);
        for (const w of names)
          if (w.lastAcked !== undefined) assert.equal(seen.get(w.vm), 'mod', `event for renamed ${w.vm}`);
        for (const w of configs)
          for (const op of w.acked)
            assert.equal(seen.get(op.vm), 'mod', `event for other_config of ${op.vm}`);
        const gen = (token: string) => Number(token.split(',')[0]);
        assert.ok(gen(r.token) > gen(tokenBeforeKill), `token ${r.token} is after ${tokenBeforeKill}`);
        // And writes after the restart are reported from the new token.
        await c.callSession('VM.set_name_description', vms[0], 'after restart');
        const r2 = (await c.callSession('event.from', ['vm'], r.token, 5)) as { events: Ev[] };
        assert.ok(r2.events.some((e) => e.ref === vms[0] && e.operation === 'mod'));
      } finally {
        c.close();
      }
    }));
});

describe('running VMs across daemon restarts', { timeout: 55_000 }, () => {
  it('a running VM keeps running with the same domid across kill -9 and SIGTERM', () =>
    withDaemon('durability-vms', async (d, track) => {
      let c = await connect(d);
      const host = ((await c.callSession('host.get_all')) as string[])[0];
      const vm = (await c.callSession('VM.create', vmFields('keeps-running'))) as string;
      const idle = (await c.callSession('VM.create', vmFields('stays-halted'))) as string;
      await c.callSession('VM.start', vm, false, false);
      const domid = (await c.callSession('VM.get_domid', vm)) as number;
      assert.ok(domid > 0, `domid ${domid}`);
      const freeWith = async (cl: XapiClient) =>
        (await cl.callSession(
          'host_metrics.get_memory_free',
          await cl.callSession('host.get_metrics', host),
        )) as number;
      const free = await freeWith(c);
      c.close();

      const expectRunning = async (cl: XapiClient, how: string) => {
        const rec = (await cl.callSession('VM.get_record', vm)) as {
          power_state: string;
          domid: number;
          resident_on: string;
        };
        assert.equal(rec.power_state, 'Running', `power_state after ${how}`);
        assert.equal(rec.domid, domid, `domid after ${how}`);
        assert.equal(rec.resident_on, host, `resident_on after ${how}`);
        assert.equal(
          await cl.callSession('VM.get_power_state', idle),
          'Halted',
          `the halted VM after ${how}`,
        );
        assert.equal(await freeWith(cl), free, `host memory_free after ${how}`);
      };

      await d.kill();
      const d2 = await d.restart();
      track(d2);
      c = await connect(d2);
      await expectRunning(c, 'kill -9');
      c.close();

      assert.equal(await d2.stop(), 0, 'SIGTERM exit code');
      const d3 = await d2.restart();
      track(d3);
      c = await connect(d3);
      try {
        await expectRunning(c, 'SIGTERM');
        // The re-discovered domain is still managed: a new VM gets a fresh domid and both stop.
        await c.callSession('VM.start', idle, false, false);
        const other = (await c.callSession('VM.get_domid', idle)) as number;
        assert.ok(other > 0 && other !== domid, `new domid ${other} must differ from ${domid}`);
        await c.callSession('VM.hard_shutdown', vm);
        await c.callSession('VM.clean_shutdown', idle);
        assert.equal(await c.callSession('VM.get_power_state', vm), 'Halted');
        assert.equal(await c.callSession('VM.get_domid', vm), -1);
        assert.equal(await c.callSession('VM.get_power_state', idle), 'Halted');
      } finally {
        c.close();
      }
    }));
});
