// Proves that every kind of bad input a real poolstackd can receive (malformed XML/JSON, wrong
// parameter counts and types, unknown methods, bad refs/uuids/sessions, oversized bodies, write
// calls that fail validation) gets xapi's answer, commits nothing (the DB generation is unchanged)
// and leaves the daemon answering.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { XapiClient } from '../../src/rpc/client.js';
import { encodeMethodCall, parseMethodResponse } from '../../src/rpc/xml.js';
import { startDaemonProcess, TEST_PASSWORD, type DaemonHandle } from '../../src/testing/daemon-process.js';

const REQUEST_TIMEOUT_MS = 15_000;
const GiB = 1024 ** 3;
const TiB = 1024 * GiB;
const BODY_MAX = 10 * 1024 * 1024;

type Outcome = { ok: true; value: unknown } | { ok: false; error: string[] };
interface RawReply {
  status: number;
  type: string;
  body: string;
}

let daemon: DaemonHandle | undefined;
let reader: XapiClient | undefined;
let failed = false;

// Objects made in `before`.
let session = '';
let hostRef = '';
let hostUuid = '';
let dom0 = '';
let template = '';
let halted = '';
let running = '';
let huge = '';

function d(): DaemonHandle {
  assert.ok(daemon !== undefined, 'daemon not started');
  return daemon;
}

/** One POST on a fresh connection (agent: false), bounded in time. */
function post(
  path: string,
  body: string,
  contentType: string,
  headers: Record<string, string> = {},
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, d().httpUrl);
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'Content-Type': contentType, Connection: 'close', ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    const timer = setTimeout(
      () => req.destroy(new Error(`POST ${path} timed out after ${REQUEST_TIMEOUT_MS} ms`)),
      REQUEST_TIMEOUT_MS,
    );
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}

async function jsonCall(method: string, params: unknown[], version: '1.0' | '2.0' = '2.0'): Promise<Outcome> {
  const body = version === '2.0' ? { jsonrpc: '2.0', method, params, id: 7 } : { method, params, id: 'v1' };
  const r = await post('/jsonrpc', JSON.stringify(body), 'application/json');
  assert.equal(r.status, 200, `${method}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  assert.equal(r.type, 'application/json');
  return decodeJson(r.body, version);
}

function decodeJson(text: string, version: '1.0' | '2.0'): Outcome {
  const msg = JSON.parse(text) as { result?: unknown; error?: unknown; id?: unknown };
  if (version === '2.0') {
    assert.equal(msg.id, 7);
    if (msg.error === undefined) return { ok: true, value: msg.result };
    const e = msg.error as { code: unknown; message: unknown; data: unknown };
    assert.equal(e.code, 1, 'xapi v2 error code is always 1');
    assert.equal(typeof e.message, 'string');
    assert.ok(Array.isArray(e.data));
    return { ok: false, error: [e.message as string, ...(e.data as string[])] };
  }
  assert.equal(msg.id, 'v1');
  if (msg.error === null) return { ok: true, value: msg.result };
  assert.equal(msg.result, null);
  assert.ok(Array.isArray(msg.error));
  return { ok: false, error: msg.error as string[] };
}

async function xmlCall(method: string, params: unknown[], path = '/'): Promise<Outcome> {
  return xmlRaw(encodeMethodCall(method, params), path);
}

async function xmlRaw(body: string, path = '/'): Promise<Outcome> {
  const r = await post(path, body, 'text/xml');
  assert.equal(r.status, 200, `HTTP ${r.status} ${r.body.slice(0, 200)}`);
  assert.equal(r.type, 'text/xml');
  const out = parseMethodResponse(r.body);
  return out.ok ? { ok: true, value: out.value } : { ok: false, error: out.error };
}

/** The DB generation, read with a call that writes nothing. */
async function generation(): Promise<number> {
  assert.ok(reader !== undefined);
  const r = (await reader.callSession('event.from', ['*'], '', 0.01)) as { token: string };
  const m = /^(\d{20}),(\d{20})$/.exec(r.token);
  assert.ok(m !== null, `bad token ${r.token}`);
  return Number(m[1]);
}

function alive(): void {
  assert.doesNotThrow(() => process.kill(d().pid, 0), 'poolstackd died');
}

/** `send` must fail with exactly [code, ...params] (or pass `check`) and commit nothing. */
async function refused(
  label: string,
  send: () => Promise<Outcome>,
  expected: string[] | ((error: string[]) => void),
): Promise<void> {
  const before = await generation();
  const out = await send();
  assert.equal(out.ok, false, `${label}: succeeded with ${JSON.stringify(out.ok ? out.value : undefined)}`);
  if (out.ok) return;
  if (typeof expected === 'function') expected(out.error);
  else assert.deepEqual(out.error, expected, label);
  assert.equal(await generation(), before, `${label}: the DB generation changed`);
  alive();
}

/** A body xapi cannot parse: HTTP 500 with an HTML page, nothing committed. */
async function malformed(label: string, path: string, body: string, contentType: string): Promise<void> {
  const before = await generation();
  const r = await post(path, body, contentType);
  assert.equal(r.status, 500, `${label}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  assert.match(r.type, /^text\/html/, label);
  assert.match(r.body, /<html>.*500/s, label);
  assert.equal(await generation(), before, `${label}: the DB generation changed`);
  alive();
}

/** An `it` that remembers failures, so the data dir is kept for inspection. */
function check(name: string, fn: () => Promise<void>): void {
  it(name, async () => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      throw e;
    }
  });
}

const both = [
  ['json', (m: string, p: unknown[]) => jsonCall(m, p)],
  ['json-v1', (m: string, p: unknown[]) => jsonCall(m, p, '1.0')],
  ['xml', (m: string, p: unknown[]) => xmlCall(m, p)],
] as const;

describe('bad input to one poolstackd', { timeout: 55_000 }, () => {
  before(async () => {
    try {
      daemon = await startDaemonProcess({ name: 'bad-input' });
      reader = new XapiClient(daemon.httpUrl, { timeoutMs: REQUEST_TIMEOUT_MS });
      session = await reader.login('root', TEST_PASSWORD);
      const vms = (await reader.callSession('VM.get_all_records')) as Record<
        string,
        { is_a_template: boolean; is_control_domain: boolean }
      >;
      const entries = Object.entries(vms);
      template = entries.find(([, v]) => v.is_a_template)?.[0] ?? '';
      dom0 = entries.find(([, v]) => v.is_control_domain)?.[0] ?? '';
      assert.ok(template !== '' && dom0 !== '');
      hostRef = ((await reader.callSession('host.get_all')) as string[])[0] ?? '';
      hostUuid = (await reader.callSession('host.get_uuid', hostRef)) as string;
      const make = async (name: string, mem: number) =>
        (await reader?.callSession('VM.create', {
          name_label: name,
          memory_static_min: mem,
          memory_dynamic_min: mem,
          memory_dynamic_max: mem,
          memory_static_max: mem,
          VCPUs_max: 1,
          VCPUs_at_startup: 1,
        })) as string;
      halted = await make('bad-input halted', 256 * 1024 * 1024);
      running = await make('bad-input running', 256 * 1024 * 1024);
      huge = await make('bad-input huge', 256 * 1024 * 1024);
      await reader.callSession('VM.start', running, false, false);
      await reader.callSession('VM.add_to_other_config', halted, 'dup', 'first');
      // 1 TiB on a halted VM is allowed; starting it is not.
      await reader.callSession('VM.set_memory_limits', huge, TiB, TiB, TiB, TiB);
    } catch (e) {
      failed = true;
      throw e;
    }
  });

  after(async () => {
    reader?.close();
    if (daemon === undefined) return;
    const dir = daemon.dataDir;
    await daemon.stop();
    if (failed) console.log(`bad-input: kept the data dir ${dir}`);
    else daemon.cleanup();
  });

  check('malformed XML-RPC bodies get HTTP 500 on every XML path', async () => {
    const start = `<?xml version="1.0"?><methodCall><methodName>VM.get_all</methodName><params><param><value>${session}</value></param>`;
    const bodies: [string, string][] = [
      ['truncated', start],
      ['truncated inside a tag', start.slice(0, start.length - 20)],
      ['garbage', 'this is not xml \u0000\u0001 <<<>>>'],
      ['empty body', ''],
      [
        'JSON on the XML path',
        JSON.stringify({ jsonrpc: '2.0', method: 'VM.get_all', params: [session], id: 1 }),
      ],
      [
        'entity bomb (billion laughs)',
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
          '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>' +
          `<methodCall><methodName>VM.set_name_label</methodName><params><param><value>${session}</value></param>` +
          `<param><value>${halted}</value></param><param><value>&lol3;</value></param></params></methodCall>`,
      ],
      [
        'external entity',
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' +
          `<methodCall><methodName>VM.set_name_label</methodName><params><param><value>${session}</value></param>` +
          `<param><value>${halted}</value></param><param><value>&xxe;</value></param></params></methodCall>`,
      ],
      ['undeclared entity', `${start}<param><value>&nope;</value></param></params></methodCall>`],
      ['mismatched tags', `${start}</param></methodCall></params>`],
      [
        'no methodName',
        `<?xml version="1.0"?><methodCall><params><param><value>${session}</value></param></params></methodCall>`,
      ],
      ['wrong root', '<?xml version="1.0"?><methodResponse><params></params></methodResponse>'],
      [
        'bad <int>',
        `${start.replace('VM.get_all', 'VM.set_user_version')}<param><value>${halted}</value></param><param><value><int>seven</int></value></param></params></methodCall>`,
      ],
      [
        'bad <boolean>',
        `${start.replace('VM.get_all', 'VM.start')}<param><value>${halted}</value></param><param><value><boolean>yes</boolean></value></param><param><value><boolean>0</boolean></value></param></params></methodCall>`,
      ],
      [
        'unknown value type',
        `${start}<param><value><float>1.5</float></value></param></params></methodCall>`,
      ],
      [
        'nesting 100000 deep',
        `${start}<param>${'<value><array><data>'.repeat(100_000)}${'</data></array></value>'.repeat(100_000)}</param></params></methodCall>`,
      ],
    ];
    for (const path of ['/', '/RPC2', '/xmlrpc']) {
      for (const [label, body] of bodies) await malformed(`${label} on ${path}`, path, body, 'text/xml');
    }
  });

  check('malformed JSON-RPC bodies get HTTP 500', async () => {
    const bodies: [string, string][] = [
      ['bad syntax', `{"jsonrpc":"2.0","method":"VM.get_all","params":["${session}"],"id":1`],
      ['garbage', 'definitely not json'],
      ['empty body', ''],
      ['XML on the JSON path', encodeMethodCall('VM.get_all', [session])],
      ['top-level array', `[{"jsonrpc":"2.0","method":"VM.get_all","params":["${session}"],"id":1}]`],
      ['top-level null', 'null'],
      ['v2 id missing', `{"jsonrpc":"2.0","method":"VM.get_all","params":["${session}"]}`],
      ['v2 id null', `{"jsonrpc":"2.0","method":"VM.get_all","params":["${session}"],"id":null}`],
      ['v1 id missing', `{"method":"VM.get_all","params":["${session}"]}`],
      ['v1 id null', `{"method":"VM.get_all","params":["${session}"],"id":null}`],
      ['id a float', `{"jsonrpc":"2.0","method":"VM.get_all","params":["${session}"],"id":1.5}`],
      ['id an object', `{"jsonrpc":"2.0","method":"VM.get_all","params":["${session}"],"id":{}}`],
      ['v1 params a string', `{"method":"VM.get_all","params":"${session}","id":1}`],
      ['v1 params an object', `{"method":"VM.get_all","params":{"session":"${session}"},"id":1}`],
      ['v1 params missing', `{"method":"VM.get_all","id":1}`],
      ['v2 params a string', `{"jsonrpc":"2.0","method":"VM.get_all","params":"${session}","id":1}`],
      ['method a number', `{"jsonrpc":"2.0","method":42,"params":["${session}"],"id":1}`],
      ['method null', `{"jsonrpc":"2.0","method":null,"params":["${session}"],"id":1}`],
      ['method missing', `{"jsonrpc":"2.0","params":["${session}"],"id":1}`],
      ['unknown jsonrpc version', `{"jsonrpc":"3.0","method":"VM.get_all","params":["${session}"],"id":1}`],
      [
        'a write with a bad id',
        `{"jsonrpc":"2.0","method":"VM.set_name_label","params":["${session}","${halted}","never"],"id":null}`,
      ],
    ];
    for (const [label, body] of bodies) await malformed(label, '/jsonrpc', body, 'application/json');
  });

  check('deeply nested JSON values are refused with a XenAPI error, not a crash', async () => {
    const deep = `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`;
    const send = async (params: string) => {
      const r = await post(
        '/jsonrpc',
        `{"jsonrpc":"2.0","method":"VM.set_name_label","params":${params},"id":7}`,
        'application/json',
      );
      assert.equal(r.status, 200, r.body.slice(0, 200));
      return decodeJson(r.body, '2.0');
    };
    await refused(
      'nested array as the session',
      () => send(`[${deep},"${halted}","x"]`),
      (e) => assert.equal(e[0], 'SESSION_INVALID'),
    );
    await refused('nested array as a string', () => send(`["${session}","${halted}",${deep}]`), [
      'FIELD_TYPE_ERROR',
      'value',
    ]);
  });

  check('wrong parameter counts: MESSAGE_PARAMETER_COUNT_MISMATCH [method, expected, received]', async () => {
    for (const [proto, call] of both) {
      await refused(`${proto} VM.get_record()`, () => call('VM.get_record', []), [
        'MESSAGE_PARAMETER_COUNT_MISMATCH',
        'VM.get_record',
        '2',
        '0',
      ]);
      await refused(`${proto} VM.get_record(s)`, () => call('VM.get_record', [session]), [
        'MESSAGE_PARAMETER_COUNT_MISMATCH',
        'VM.get_record',
        '2',
        '1',
      ]);
      await refused(`${proto} VM.get_record(s, vm, x)`, () => call('VM.get_record', [session, halted, 'x']), [
        'MESSAGE_PARAMETER_COUNT_MISMATCH',
        'VM.get_record',
        '2',
        '3',
      ]);
      // The count is checked before the session (gen_server.ml), and before anything is written.
      await refused(
        `${proto} VM.get_record(bad, vm, x)`,
        () => call('VM.get_record', ['OpaqueRef:bad', halted, 'x']),
        ['MESSAGE_PARAMETER_COUNT_MISMATCH', 'VM.get_record', '2', '3'],
      );
      await refused(
        `${proto} VM.set_name_label with 4`,
        () => call('VM.set_name_label', [session, halted, 'x', 'extra']),
        ['MESSAGE_PARAMETER_COUNT_MISMATCH', 'VM.set_name_label', '3', '4'],
      );
      await refused(`${proto} VM.start with 2`, () => call('VM.start', [session, halted]), [
        'MESSAGE_PARAMETER_COUNT_MISMATCH',
        'VM.start',
        '4',
        '2',
      ]);
      await refused(
        `${proto} login with 1`,
        () => call('session.login_with_password', ['root']),
        (e) => {
          assert.equal(e[0], 'MESSAGE_PARAMETER_COUNT_MISMATCH');
          assert.equal(e[1], 'session.login_with_password');
          assert.equal(e[3], '1');
        },
      );
    }
  });

  check('wrong types: FIELD_TYPE_ERROR, nothing written', async () => {
    for (const [proto, call] of both) {
      await refused(
        `${proto} struct for a string`,
        () => call('VM.set_name_label', [session, halted, { a: 'b' }]),
        ['FIELD_TYPE_ERROR', 'value'],
      );
      await refused(
        `${proto} array for a string`,
        () => call('VM.set_name_label', [session, halted, ['a']]),
        ['FIELD_TYPE_ERROR', 'value'],
      );
      await refused(`${proto} struct for a ref`, () => call('VM.get_record', [session, { ref: halted }]), [
        'FIELD_TYPE_ERROR',
        'self',
      ]);
      await refused(`${proto} string for a bool`, () => call('VM.start', [session, halted, 'yes', false]), [
        'FIELD_TYPE_ERROR',
        'start_paused',
      ]);
      await refused(
        `${proto} string for an int`,
        () => call('VM.set_user_version', [session, halted, 'seven']),
        ['FIELD_TYPE_ERROR', 'value'],
      );
      await refused(
        `${proto} array for a map`,
        () => call('VM.set_other_config', [session, halted, ['a', 'b']]),
        ['FIELD_TYPE_ERROR', 'value'],
      );
      await refused(`${proto} struct for a set`, () => call('VM.set_tags', [session, halted, { a: 'b' }]), [
        'FIELD_TYPE_ERROR',
        'value',
      ]);
      await refused(
        `${proto} int beyond 2^53 as a string`,
        () => call('VM.set_user_version', [session, halted, '99999999999999999999']),
        ['FIELD_TYPE_ERROR', 'value'],
      );
      await refused(
        `${proto} unknown enum value`,
        () => call('VM.set_actions_after_shutdown', [session, halted, 'explode']),
        ['INVALID_VALUE', 'value', 'explode'],
      );
    }
    // Over JSON, a non-integer number where an int is expected; a number where a string is expected.
    await refused('json float for an int', () => jsonCall('VM.set_user_version', [session, halted, 1.5]), [
      'FIELD_TYPE_ERROR',
      'value',
    ]);
    await refused('json number for a string', () => jsonCall('VM.set_name_label', [session, halted, 42]), [
      'FIELD_TYPE_ERROR',
      'value',
    ]);
    await refused('json null for a string', () => jsonCall('VM.set_name_label', [session, halted, null]), [
      'FIELD_TYPE_ERROR',
      'value',
    ]);
  });

  check('an int given as a numeric string is accepted (xapi unmarshallers allow it)', async () => {
    assert.ok(reader !== undefined);
    const gen0 = await generation();
    const r1 = await jsonCall('VM.set_user_version', [session, halted, '7']);
    assert.deepEqual(r1, { ok: true, value: '' });
    assert.equal(await reader.callSession('VM.get_user_version', halted), 7);
    // npm xen-api sends every int over XML-RPC as a bare string; <int> works too.
    const r2 = await xmlCall('VM.set_user_version', [session, halted, '8']);
    assert.deepEqual(r2, { ok: true, value: '' });
    assert.equal(await reader.callSession('VM.get_user_version', halted), 8);
    const r3 = await xmlRaw(
      `<?xml version="1.0"?><methodCall><methodName>VM.set_user_version</methodName><params><param><value>${session}</value></param>` +
        `<param><value>${halted}</value></param><param><value><int>9</int></value></param></params></methodCall>`,
    );
    assert.deepEqual(r3, { ok: true, value: '' });
    assert.equal(await reader.callSession('VM.get_user_version', halted), 9);
    assert.ok((await generation()) > gen0, 'accepted writes commit');
  });

  check('unknown methods: MESSAGE_METHOD_UNKNOWN [method]', async () => {
    for (const [proto, call] of both) {
      await refused(`${proto} with a session`, () => call('VM.explode', [session]), [
        'MESSAGE_METHOD_UNKNOWN',
        'VM.explode',
      ]);
      await refused(
        `${proto} with a session and args`,
        () => call('nosuchclass.get_all', [session, 'a', 1]),
        ['MESSAGE_METHOD_UNKNOWN', 'nosuchclass.get_all'],
      );
      await refused(`${proto} with no params`, () => call('VM.explode', []), [
        'MESSAGE_METHOD_UNKNOWN',
        'VM.explode',
      ]);
      await refused(`${proto} Async of an unknown method`, () => call('Async.VM.explode', [session]), [
        'MESSAGE_METHOD_UNKNOWN',
        'Async.VM.explode',
      ]);
      await refused(
        `${proto} Async of a class without Async`,
        () => call('Async.event.from', [session, ['*'], '', 0.01]),
        ['MESSAGE_METHOD_UNKNOWN', 'Async.event.from'],
      );
      // xapi validates a session-shaped first parameter before it reports the method unknown.
      await refused(`${proto} with a bad session`, () => call('VM.explode', ['OpaqueRef:bad']), [
        'SESSION_INVALID',
        'OpaqueRef:bad',
      ]);
    }
  });

  check('invalid references: HANDLE_INVALID [class, ref]', async () => {
    const missing = 'OpaqueRef:00000000-0000-4000-8000-000000000000';
    for (const [proto, call] of both) {
      await refused(`${proto} unknown ref`, () => call('VM.get_record', [session, missing]), [
        'HANDLE_INVALID',
        'VM',
        missing,
      ]);
      await refused(`${proto} not a ref at all`, () => call('VM.get_name_label', [session, 'garbage']), [
        'HANDLE_INVALID',
        'VM',
        'garbage',
      ]);
      await refused(`${proto} a host ref as a VM`, () => call('VM.get_record', [session, hostRef]), [
        'HANDLE_INVALID',
        'VM',
        hostRef,
      ]);
      await refused(`${proto} the null ref`, () => call('VM.get_record', [session, 'OpaqueRef:NULL']), [
        'HANDLE_INVALID',
        'VM',
        'OpaqueRef:NULL',
      ]);
      await refused(
        `${proto} a write on an unknown ref`,
        () => call('VM.set_name_label', [session, missing, 'x']),
        ['HANDLE_INVALID', 'VM', missing],
      );
      await refused(
        `${proto} VM.start of an unknown ref`,
        () => call('VM.start', [session, missing, false, false]),
        ['HANDLE_INVALID', 'VM', missing],
      );
      await refused(
        `${proto} Async.VM.start of an unknown ref`,
        () => call('Async.VM.start', [session, missing, false, false]),
        ['HANDLE_INVALID', 'VM', missing],
      );
    }
  });

  check('invalid uuids: UUID_INVALID [class, uuid]', async () => {
    for (const [proto, call] of both) {
      await refused(`${proto} not a uuid`, () => call('VM.get_by_uuid', [session, 'not-a-uuid']), [
        'UUID_INVALID',
        'VM',
        'not-a-uuid',
      ]);
      const unknown = '01234567-89ab-4cde-8f01-23456789abcd';
      await refused(`${proto} unknown uuid`, () => call('VM.get_by_uuid', [session, unknown]), [
        'UUID_INVALID',
        'VM',
        unknown,
      ]);
      await refused(`${proto} a host's uuid as a VM`, () => call('VM.get_by_uuid', [session, hostUuid]), [
        'UUID_INVALID',
        'VM',
        hostUuid,
      ]);
      await refused(`${proto} empty uuid`, () => call('VM.get_by_uuid', [session, '']), [
        'UUID_INVALID',
        'VM',
        '',
      ]);
    }
  });

  check('oversized bodies get HTTP 413 and the daemon carries on', async () => {
    /** Declares a too-large Content-Length and waits for the answer before sending the body. */
    const declared = (path: string, contentType: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(new URL(path, d().httpUrl), {
          method: 'POST',
          agent: false,
          headers: { 'Content-Type': contentType, 'Content-Length': String(BODY_MAX + 1) },
        });
        const timer = setTimeout(
          () => req.destroy(new Error('no answer to an oversized Content-Length')),
          REQUEST_TIMEOUT_MS,
        );
        req.on('response', (res) => {
          clearTimeout(timer);
          res.resume();
          req.destroy();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        req.flushHeaders();
      });
    /** Streams more than the limit without a Content-Length (chunked); stops once answered. */
    const streamed = (path: string, contentType: string) =>
      new Promise<number>((resolve, reject) => {
        let answered = false;
        const req = http.request(new URL(path, d().httpUrl), {
          method: 'POST',
          agent: false,
          headers: { 'Content-Type': contentType },
        });
        const timer = setTimeout(
          () => req.destroy(new Error('no answer to an oversized chunked body')),
          REQUEST_TIMEOUT_MS,
        );
        req.on('response', (res) => {
          answered = true;
          clearTimeout(timer);
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          req.destroy();
        });
        req.on('error', (e) => {
          clearTimeout(timer);
          if (!answered) reject(e);
        });
        const chunk = Buffer.alloc(256 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          // 12 MiB, then keep the request open until the server answers.
          while (!answered && sent < BODY_MAX + 2 * 1024 * 1024) {
            sent += chunk.length;
            if (!req.write(chunk)) {
              req.once('drain', pump);
              return;
            }
          }
        };
        pump();
      });
    for (const [path, type] of [
      ['/jsonrpc', 'application/json'],
      ['/', 'text/xml'],
    ] as const) {
      const before = await generation();
      assert.equal(await declared(path, type), 413, `declared ${path}`);
      assert.equal(await streamed(path, type), 413, `streamed ${path}`);
      assert.equal(await generation(), before);
      alive();
    }
    // A body just under the limit is read (and is here merely a bad request).
    const big = `{"jsonrpc":"2.0","method":"VM.set_name_label","params":["${session}","${halted}",{"pad":"${'x'.repeat(BODY_MAX - 500)}"}],"id":7}`;
    assert.ok(Buffer.byteLength(big) <= BODY_MAX);
    await refused(
      'just under the limit',
      async () => {
        const r = await post('/jsonrpc', big, 'application/json');
        assert.equal(r.status, 200);
        return decodeJson(r.body, '2.0');
      },
      ['FIELD_TYPE_ERROR', 'value'],
    );
  });

  check('invalid sessions: SESSION_INVALID [ref]; a logged-out session is invalid', async () => {
    for (const [proto, call] of both) {
      await refused(`${proto} made-up session`, () => call('VM.get_all', ['OpaqueRef:made-up']), [
        'SESSION_INVALID',
        'OpaqueRef:made-up',
      ]);
      await refused(`${proto} empty session`, () => call('VM.get_all', ['']), ['SESSION_INVALID', '']);
      await refused(
        `${proto} made-up session on a write`,
        () => call('VM.set_name_label', ['OpaqueRef:made-up', halted, 'x']),
        ['SESSION_INVALID', 'OpaqueRef:made-up'],
      );
      const other = new XapiClient(d().httpUrl, {
        timeoutMs: REQUEST_TIMEOUT_MS,
        transport: proto === 'xml' ? 'xml' : 'json',
      });
      try {
        const ref = await other.login('root', TEST_PASSWORD);
        await other.logout();
        await refused(`${proto} after logout`, () => call('VM.get_all', [ref]), ['SESSION_INVALID', ref]);
        await refused(`${proto} logout twice`, () => call('session.logout', [ref]), ['SESSION_INVALID', ref]);
      } finally {
        other.close();
      }
    }
  });

  check('bad logins: SESSION_AUTHENTICATION_FAILED, no session created', async () => {
    for (const [proto, call] of both) {
      await refused(`${proto} wrong password`, () => call('session.login_with_password', ['root', 'wrong']), [
        'SESSION_AUTHENTICATION_FAILED',
        'root',
        'Authentication failure',
      ]);
      await refused(
        `${proto} unknown user`,
        () => call('session.login_with_password', ['mallory', TEST_PASSWORD, '1.1', 'test']),
        ['SESSION_AUTHENTICATION_FAILED', 'mallory', 'Authentication failure'],
      );
      await refused(`${proto} empty password`, () => call('session.login_with_password', ['root', '']), [
        'SESSION_AUTHENTICATION_FAILED',
        'root',
        'Authentication failure',
      ]);
    }
  });

  check('write calls that fail validation change nothing', async () => {
    for (const [proto, call] of both) {
      await refused(
        `${proto} set_memory_limits static_min > static_max`,
        () => call('VM.set_memory_limits', [session, halted, 2 * GiB, GiB, GiB, GiB]),
        (e) => assert.equal(e[0], 'MEMORY_CONSTRAINT_VIOLATION'),
      );
      await refused(
        `${proto} set_memory_limits dynamic_max > static_max`,
        () => call('VM.set_memory_limits', [session, halted, GiB, GiB, GiB, 2 * GiB]),
        (e) => assert.equal(e[0], 'MEMORY_CONSTRAINT_VIOLATION'),
      );
      await refused(
        `${proto} VM.create violating memory constraints`,
        () =>
          call('VM.create', [
            session,
            {
              name_label: 'never',
              memory_static_min: 2 * GiB,
              memory_dynamic_min: GiB,
              memory_dynamic_max: GiB,
              memory_static_max: GiB,
              VCPUs_max: 1,
              VCPUs_at_startup: 1,
            },
          ]),
        (e) => assert.equal(e[0], 'MEMORY_CONSTRAINT_VIOLATION'),
      );
      await refused(`${proto} start a template`, () => call('VM.start', [session, template, false, false]), [
        'VM_IS_TEMPLATE',
        template,
      ]);
      await refused(`${proto} start a running VM`, () => call('VM.start', [session, running, false, false]), [
        'VM_BAD_POWER_STATE',
        running,
        'halted',
        'running',
      ]);
      await refused(
        `${proto} start the control domain`,
        () => call('VM.start', [session, dom0, false, false]),
        (e) => assert.equal(e[0], 'OPERATION_NOT_ALLOWED'),
      );
      await refused(
        `${proto} duplicate other_config key`,
        () => call('VM.add_to_other_config', [session, halted, 'dup', 'second']),
        ['MAP_DUPLICATE_KEY', 'VM', 'other_config', halted, 'dup'],
      );
      await refused(
        `${proto} start needing 1 TiB`,
        () => call('VM.start', [session, huge, false, false]),
        (e) => {
          assert.equal(e[0], 'HOST_NOT_ENOUGH_FREE_MEMORY');
          assert.equal(e.length, 3);
          assert.equal(e[1], String(TiB), 'needed');
          assert.match(e[2] ?? '', /^\d+$/, 'available is a numeric string');
          assert.ok(Number(e[2]) < TiB && Number(e[2]) > 0);
        },
      );
    }
    assert.ok(reader !== undefined);
    assert.equal(await reader.callSession('VM.get_power_state', huge), 'Halted');
    assert.deepEqual(await reader.callSession('VM.get_other_config', halted), { dup: 'first' });
    assert.equal(await reader.callSession('VM.get_memory_static_max', halted), 256 * 1024 * 1024);
    // The available figure is the host's free memory.
    const metrics = (await reader.callSession('host.get_metrics', hostRef)) as string;
    const free = (await reader.callSession('host_metrics.get_memory_free', metrics)) as number;
    const out = await jsonCall('VM.start', [session, huge, false, false]);
    assert.deepEqual(out, { ok: false, error: ['HOST_NOT_ENOUGH_FREE_MEMORY', String(TiB), String(free)] });
  });

  check('other refused calls: events, filters, long strings, bad records', async () => {
    for (const [proto, call] of both) {
      await refused(
        `${proto} event.from with a bad token`,
        () => call('event.from', [session, ['*'], 'garbage', 0.01]),
        ['EVENT_FROM_TOKEN_PARSE_FAILURE', 'garbage'],
      );
      await refused(
        `${proto} event.from with a bad class`,
        () => call('event.from', [session, ['nosuchclass'], '', 0.01]),
        ['EVENT_SUBSCRIPTION_PARSE_FAILURE', 'nosuchclass'],
      );
      await refused(
        `${proto} event.inject of an unknown ref`,
        () => call('event.inject', [session, 'VM', 'OpaqueRef:nope']),
        ['HANDLE_INVALID', 'VM', 'OpaqueRef:nope'],
      );
      await refused(
        `${proto} a bad where-expression`,
        () => call('VM.get_all_records_where', [session, 'field "x" = ']),
        (e) => assert.equal(e[0], 'INVALID_VALUE'),
      );
      await refused(
        `${proto} a 2 MiB string`,
        () => call('VM.set_name_label', [session, halted, 'x'.repeat(2 * 1024 * 1024)]),
        ['INVALID_VALUE', 'value', 'too long'],
      );
      await refused(`${proto} VM.create of a string`, () => call('VM.create', [session, 'not a record']), [
        'FIELD_TYPE_ERROR',
        'args',
      ]);
      await refused(
        `${proto} VM.destroy of an unknown ref`,
        () => call('VM.destroy', [session, 'OpaqueRef:nope']),
        ['HANDLE_INVALID', 'VM', 'OpaqueRef:nope'],
      );
      await refused(
        `${proto} VM.destroy of a running VM`,
        () => call('VM.destroy', [session, running]),
        (e) => assert.equal(e[0], 'VM_BAD_POWER_STATE'),
      );
      await refused(
        `${proto} VM.create with zero VCPUs`,
        () => call('VM.create', [session, { name_label: 'no VCPUs', VCPUs_max: 0, VCPUs_at_startup: 0 }]),
        ['INVALID_VALUE', 'VCPUs_max', '0'],
      );
      await refused(
        `${proto} VM.create with more VCPUs at startup than the maximum`,
        () => call('VM.create', [session, { name_label: 'too many', VCPUs_max: 1, VCPUs_at_startup: 2 }]),
        ['INVALID_VALUE', 'VCPUs_at_startup', '2'],
      );
      await refused(
        `${proto} VM.create with negative memory`,
        () => call('VM.create', [session, { name_label: 'neg', memory_static_max: -5 }]),
        ['INVALID_VALUE', 'memory_static_max', '-5'],
      );
    }
  });

  check('a map key named __proto__ is kept, not silently dropped', async () => {
    assert.ok(reader !== undefined);
    const r = await post(
      '/jsonrpc',
      `{"jsonrpc":"2.0","method":"VM.set_xenstore_data","params":["${session}","${halted}",{"__proto__":"x","a":"b"}],"id":7}`,
      'application/json',
    );
    assert.deepEqual(decodeJson(r.body, '2.0'), { ok: true, value: '' });
    const got = (await reader.callSession('VM.get_xenstore_data', halted)) as Record<string, string>;
    assert.deepEqual(Object.entries(got).sort(), [
      ['__proto__', 'x'],
      ['a', 'b'],
    ]);
  });

  check('the daemon survived all of it', async () => {
    alive();
    assert.ok(reader !== undefined);
    const gen = await generation();
    assert.ok(gen > 0);
    assert.equal(await reader.callSession('VM.get_power_state', running), 'Running');
  });
});
