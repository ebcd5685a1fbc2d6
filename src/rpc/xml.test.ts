// Proves the XML-RPC codec reads what Python's xmlrpc.client and npm xen-api send, refuses malformed bodies, and emits xapi's exact bytes that npm xen-api's own parser accepts.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { defineClass, field } from '../model/define.js';
import type { Ty } from '../model/types.js';
import { stringMap, t } from '../model/types.js';
import { formatG } from './codec.js';
import { MalformedRequest } from './errors.js';
import {
  encodeBare,
  encodeFailure,
  encodeMethodCall,
  encodeSuccess,
  encodeValue,
  parseMethodCall,
  parseMethodResponse,
} from './xml.js';

// npm xen-api's parser is CommonJS without types; load it exactly as xen-api does.
const require = createRequire(import.meta.url);
const { parseXml } = require('@vates/xml/parse') as { parseXml: (xml: string, o: object) => unknown };
const { xmlRpcParser } = require('@vates/xml-rpc/parser') as {
  xmlRpcParser: { parse(n: unknown): { params: unknown[] }; parse_value(n: unknown): unknown };
};
const { xmlRpcFormatter } = require('@vates/xml-rpc/formatter') as {
  xmlRpcFormatter: { format_methodCall(c: object): unknown };
};
const { formatXml } = require('@vates/xml/format') as { formatXml: (tree: unknown, o: object) => string };

/** What `xen-api`'s transports/xml-rpc.mjs returns for a response body. */
function xenApiParse(body: string): unknown {
  const res = xmlRpcParser.parse(parseXml(body, { normalize: false, trim: false }));
  const v = res.params[0] as Record<string, unknown>;
  if (v.Status === undefined) return v;
  if (v.Status !== 'Success') throw new Error(`failure ${JSON.stringify(v.ErrorDescription)}`);
  return v.Value;
}

const powerState = t.enumOf('vm_power_state', ['Halted', 'Running']);
const Thing = defineClass({
  name: 'thing',
  doc: 'a fake class so these tests do not depend on the real datamodel',
  fields: {
    uuid: field(t.string, 'DynamicRO', ''),
    name_label: field(t.string, 'RW', ''),
    power_state: field(powerState, 'DynamicRO', ''),
    memory: field(t.int, 'RW', ''),
    ratio: field(t.float, 'RW', ''),
    enabled: field(t.bool, 'RW', ''),
    created: field(t.datetime, 'DynamicRO', ''),
    host: field(t.ref('host'), 'RW', ''),
    tags: field(t.set(t.string), 'RW', ''),
    other_config: field(stringMap, 'RW', ''),
  },
  messages: {},
});
const resolve = (cls: string) => (cls === 'thing' ? Thing : undefined);

const call = (param: string) =>
  `<methodCall><methodName>m</methodName><params><param>${param}</param></params></methodCall>`;
const one = (value: string): unknown => parseMethodCall(call(value)).params[0];

describe('parseMethodCall', () => {
  it('reads Python xmlrpc.client requests (newlines, <string>, <int>, single-quoted declaration)', () => {
    const body =
      "<?xml version='1.0'?>\n<methodCall>\n<methodName>session.login_with_password</methodName>\n<params>\n" +
      '<param>\n<value><string>root</string></value>\n</param>\n<param>\n<value><string>secret</string></value>\n</param>\n' +
      '<param>\n<value><string>2.21</string></value>\n</param>\n<param>\n<value><int>42</int></value>\n</param>\n' +
      '<param>\n<value><array><data>\n<value><string>a</string></value>\n<value><i4>1</i4></value>\n</data></array></value>\n</param>\n' +
      '<param>\n<value><struct>\n<member>\n<name>k</name>\n<value><string>v</string></value>\n</member>\n</struct></value>\n</param>\n' +
      '</params>\n</methodCall>\n';
    assert.deepEqual(parseMethodCall(body), {
      method: 'session.login_with_password',
      params: ['root', 'secret', '2.21', 42, ['a', 1], { k: 'v' }],
    });
  });

  it("reads npm xen-api's compact request from the reference", () => {
    const body =
      '<?xml version="1.0" encoding="UTF-8"?><methodCall><methodName>event.from</methodName><params><param><value>OpaqueRef:abc</value></param><param><value><array><data><value>VM</value><value>host</value></data></array></value></param><param><value></value></param><param><value><double>60.1</double></value></param><param><value>5</value></param><param><value><boolean>1</boolean></value></param><param><value><struct><member><name>a</name><value>x</value></member></struct></value></param></params></methodCall>';
    assert.deepEqual(parseMethodCall(body), {
      method: 'event.from',
      params: ['OpaqueRef:abc', ['VM', 'host'], '', 60.1, '5', true, { a: 'x' }],
    });
  });

  it('decodes every value tag', () => {
    assert.equal(one('<value><string>s</string></value>'), 's');
    assert.equal(one('<value>bare</value>'), 'bare');
    assert.equal(one('<value><int>-7</int></value>'), -7);
    assert.equal(one('<value><i4>3</i4></value>'), 3);
    assert.equal(one('<value><i8>1073741824</i8></value>'), 1073741824);
    assert.equal(one('<value><i8>9223372036854775807</i8></value>'), '9223372036854775807');
    assert.equal(one('<value><int>-9007199254740993</int></value>'), '-9007199254740993');
    assert.equal(one('<value><boolean>0</boolean></value>'), false);
    assert.equal(one('<value><boolean>1</boolean></value>'), true);
    assert.equal(one('<value><double>-1.5e3</double></value>'), -1500);
    assert.equal(
      one('<value><dateTime.iso8601>20240101T00:00:00Z</dateTime.iso8601></value>'),
      '20240101T00:00:00Z',
    );
    assert.equal(
      one('<value><dateTime.iso8601>2024-01-02T03:04:05.678Z</dateTime.iso8601></value>'),
      '20240102T03:04:05Z',
    );
    assert.equal(
      one('<value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value>'),
      '19980717T14:08:55Z',
    );
    assert.equal(one('<value><base64>aMOpbGxv</base64></value>'), 'héllo');
    assert.equal(one('<value><nil/></value>'), null);
    assert.deepEqual(
      one('<value><array><data><value>1</value><value><int>2</int></value></data></array></value>'),
      ['1', 2],
    );
    assert.deepEqual(
      one('<value><struct><member><name>a</name><value><nil/></value></member></struct></value>'),
      { a: null },
    );
  });

  it('reads empty forms as xapi does', () => {
    assert.equal(one('<value/>'), '');
    assert.equal(one('<value></value>'), '');
    assert.equal(one('<value><string/></value>'), '');
    assert.equal(one('<value><string></string></value>'), '');
    assert.deepEqual(one('<value><array><data/></array></value>'), []);
    assert.deepEqual(one('<value><array/></value>'), []);
    assert.deepEqual(one('<value><struct/></value>'), {});
    assert.deepEqual(one('<value><struct></struct></value>'), {});
    assert.deepEqual(parseMethodCall('<methodCall><methodName>m</methodName></methodCall>').params, []);
    assert.deepEqual(
      parseMethodCall('<methodCall><methodName>m</methodName><params/></methodCall>').params,
      [],
    );
  });

  it('keeps real string content verbatim, including surrounding and whitespace-only text', () => {
    assert.equal(one('<value>  two  words \n</value>'), '  two  words \n');
    assert.equal(one('<value>   </value>'), '   ');
    assert.equal(one('<value><string> x </string></value>'), ' x ');
  });

  it('decodes entities, character references and CDATA, and normalises line ends', () => {
    assert.equal(one('<value>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F600;</value>'), '<>&"\'AB😀');
    assert.equal(one('<value><![CDATA[<raw> & ]]>tail</value>'), '<raw> & tail');
    assert.equal(one('<value>a\r\nb\rc&#13;</value>'), 'a\nb\nc\r');
    assert.equal(one('<value>a<!-- note -->b</value>'), 'ab');
    assert.deepEqual(
      one('<value><struct><member><name>__proto__</name><value>x</value></member></struct></value>'),
      JSON.parse('{"__proto__":"x"}'),
    );
  });

  it('throws MalformedRequest on malformed bodies', () => {
    const bad = [
      '',
      'not xml',
      '<methodCall><methodName>m</methodName>',
      '<methodCall><methodName>m</methodName><params></methodCall>',
      '<methodCall><params></params></methodCall>',
      '<methodCall><methodName></methodName></methodCall>',
      '<methodResponse><params/></methodResponse>',
      '<!DOCTYPE methodCall><methodCall><methodName>m</methodName></methodCall>',
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><methodCall><methodName>&a;</methodName></methodCall>',
      '<methodCall><methodName>m</methodName></methodCall><methodCall/>',
      '<methodCall><methodName>m</methodName></methodCall>trailing',
      '<methodCall><methodName>m</methodName><params/><extra/></methodCall>',
      '<methodCall><methodName>m</methodName><params>text<param><value/></param></params></methodCall>',
      '<methodCall><methodName>m</methodName><params><value>x</value></params></methodCall>',
      call('x'),
      call('<value><foo>1</foo></value>'),
      call('<value>&bogus;</value>'),
      call('<value>a & b</value>'),
      call('<value>&#0;</value>'),
      call('<value>a < b</value>'),
      call('<value><int>abc</int></value>'),
      call('<value><int/></value>'),
      call('<value><i8>9223372036854775808</i8></value>'),
      call('<value><boolean>2</boolean></value>'),
      call('<value><double>abc</double></value>'),
      call('<value><dateTime.iso8601>yesterday</dateTime.iso8601></value>'),
      call('<value><base64>!!!!</base64></value>'),
      call('<value><nil>x</nil></value>'),
      call('<value><int>1</int><int>2</int></value>'),
      call('<value>abc<int>1</int></value>'),
      call('<value><array><value>1</value></array></value>'),
      call('<value><struct><member><value>x</value></member></struct></value>'),
      call('<value><struct><value>x</value></struct></value>'),
      call('<value><string><b>x</b></string></value>'),
      call('<value>x</value'),
      call('<value>x</valu>'),
    ];
    for (const body of bad) assert.throws(() => parseMethodCall(body), MalformedRequest, body);
  });

  it('reads string-only calls on its fast path exactly as the full reader does', () => {
    // A comment after <methodCall> is ignored by the full reader but refused by the fast path,
    // so `slow(body)` is the same request read the long way.
    const slow = (body: string) => parseMethodCall(body.replace('<methodCall>', '<methodCall><!---->'));
    const bodies = [
      '<?xml version="1.0"?><methodCall><methodName>VM.get_record</methodName><params><param><value><string>OpaqueRef:s</string></value></param><param><value><string>OpaqueRef:v</string></value></param></params></methodCall>',
      '<?xml version="1.0"?><methodCall><methodName>VM.get_record</methodName><params><param><value>OpaqueRef:s</value></param><param><value>OpaqueRef:v</value></param></params></methodCall>',
      "<?xml version='1.0'?>\n<methodCall>\n<methodName>VM.set_name_label</methodName>\n<params>\n<param>\n<value><string>s</string></value>\n</param>\n<param>\n<value>  two  words \n</value>\n</param>\n</params>\n</methodCall>\n",
      '\r\n <methodCall>\r\n<methodName> m </methodName>\r\n<params>\r\n<param>\r\n<value>\r\n<string> x > y </string>\r\n</value>\r\n</param>\r\n</params>\r\n</methodCall>\r\n',
      call('<value></value>') + '\n',
      call('<value>   </value>'),
      call('<value><string></string></value>'),
      call('<value><string/></value>'),
      call('<value>a&amp;b</value>'),
      call('<value>a\r\nb</value>'),
      call('<value><int>1</int></value>'),
      '<methodCall><methodName>m</methodName></methodCall>',
      '<methodCall><methodName>m</methodName><params></params></methodCall>',
      '<methodCall><methodName>m</methodName><params/></methodCall>',
      '\ufeff<methodCall><methodName>m</methodName></methodCall>',
    ];
    for (const body of bodies) assert.deepEqual(parseMethodCall(body), slow(body), body);
    assert.deepEqual(parseMethodCall(bodies[3] ?? ''), { method: ' m ', params: [' x > y '] });
  });

  it('bounds nesting depth', () => {
    const nest = (n: number) =>
      '<value><array><data>'.repeat(n) + '<value/>' + '</data></array></value>'.repeat(n);
    assert.equal((one(nest(15)) as unknown[]).length, 1);
    assert.throws(() => one(nest(30)), MalformedRequest);
    assert.throws(() => one(nest(100_000)), MalformedRequest);
  });

  it('uses MalformedRequest as its name', () => {
    assert.equal(new MalformedRequest('x').name, 'MalformedRequest');
  });
});

describe('encodeValue', () => {
  const cases: [string, Ty, unknown, string][] = [
    ['ref', t.ref('VM'), 'OpaqueRef:abc', '<value>OpaqueRef:abc</value>'],
    ['empty string', t.string, '', '<value></value>'],
    ['escaped string', t.string, `a<b>&"c'd`, `<value>a&lt;b&gt;&amp;&quot;c'd</value>`],
    ['control characters dropped', t.string, 'a\x01b\tc\nd\r', '<value>ab\tc\nd\r</value>'],
    ['enum', powerState, 'Running', '<value>Running</value>'],
    ['int', t.int, 1073741824, '<value>1073741824</value>'],
    ['negative int', t.int, -5, '<value>-5</value>'],
    ['int64 string', t.int, '9223372036854775807', '<value>9223372036854775807</value>'],
    ['bigint', t.int, 2n ** 62n, '<value>4611686018427387904</value>'],
    ['int32', t.int32, 3, '<value><i4>3</i4></value>'],
    ['float 1', t.float, 1, '<value><double>1</double></value>'],
    ['float 0.5', t.float, 0.5, '<value><double>0.5</double></value>'],
    ['float 1e21', t.float, 1e21, '<value><double>1e+21</double></value>'],
    ['float %.16g rounding', t.float, 0.1 + 0.2, '<value><double>0.3</double></value>'],
    ['bool true', t.bool, true, '<value><boolean>1</boolean></value>'],
    ['bool false', t.bool, false, '<value><boolean>0</boolean></value>'],
    [
      'datetime',
      t.datetime,
      '20240101T00:00:00Z',
      '<value><dateTime.iso8601>20240101T00:00:00Z</dateTime.iso8601></value>',
    ],
    ['empty set', t.set(t.ref('VM')), [], '<value><array><data></data></array></value>'],
    [
      'set',
      t.set(t.string),
      ['a', ''],
      '<value><array><data><value>a</value><value></value></data></array></value>',
    ],
    ['empty map', stringMap, {}, '<value><struct></struct></value>'],
    [
      'map with escaped key',
      t.map(t.string, t.int),
      { k: 1, 'a<b': 2 },
      '<value><struct><member><name>k</name><value>1</value></member><member><name>a&lt;b</name><value>2</value></member></struct></value>',
    ],
    [
      'struct in field order',
      t.struct({ b: t.int32, a: t.string }),
      { a: 'x', b: 2 },
      '<value><struct><member><name>b</name><value><i4>2</i4></value></member><member><name>a</name><value>x</value></member></struct></value>',
    ],
    ['dynamic', t.dynamic, { ty: t.int, value: 5 }, '<value>5</value>'],
    ['dynamic absent', t.dynamic, null, '<value></value>'],
    ['void', t.void, undefined, '<value></value>'],
  ];
  for (const [name, ty, value, expected] of cases) {
    it(name, () => assert.equal(encodeValue(ty, value, resolve), expected));
  }

  it('encodes records in declaration order, filling missing fields with their zero', () => {
    const rec = {
      name_label: 'vm',
      uuid: 'u1',
      memory: 2,
      tags: ['t'],
      other_config: { a: 'b' },
      extra: 'ignored',
    };
    assert.equal(
      encodeValue(t.record('thing'), rec, resolve),
      '<value><struct>' +
        '<member><name>uuid</name><value>u1</value></member>' +
        '<member><name>name_label</name><value>vm</value></member>' +
        '<member><name>power_state</name><value>Halted</value></member>' +
        '<member><name>memory</name><value>2</value></member>' +
        '<member><name>ratio</name><value><double>0</double></value></member>' +
        '<member><name>enabled</name><value><boolean>0</boolean></value></member>' +
        '<member><name>created</name><value><dateTime.iso8601>19700101T00:00:00Z</dateTime.iso8601></value></member>' +
        '<member><name>host</name><value>OpaqueRef:NULL</value></member>' +
        '<member><name>tags</name><value><array><data><value>t</value></data></array></value></member>' +
        '<member><name>other_config</name><value><struct><member><name>a</name><value>b</value></member></struct></value></member>' +
        '</struct></value>',
    );
  });

  it('caches each record object, so a replaced record (copy-on-write) encodes afresh', () => {
    const rec = { uuid: 'u1', memory: 2 };
    const once = encodeValue(t.record('thing'), rec, resolve);
    assert.equal(encodeValue(t.record('thing'), rec, resolve), once);
    const map = encodeValue(t.map(t.ref('thing'), t.record('thing')), { 'OpaqueRef:1': rec }, resolve);
    assert.equal(map, `<value><struct><member><name>OpaqueRef:1</name>${once}</member></struct></value>`);
    const next = { ...rec, memory: 3 };
    const changed = encodeValue(t.record('thing'), next, resolve);
    assert.equal(
      changed,
      once.replace('<name>memory</name><value>2</value>', '<name>memory</name><value>3</value>'),
    );
  });

  it('formats floats like C %.16g', () => {
    const expect: [number, string][] = [
      [1e-5, '1e-05'],
      [0.0001, '0.0001'],
      [1e15, '1000000000000000'],
      [1e16, '1e+16'],
      [123456789012345680, '1.234567890123457e+17'],
      [-0, '-0'],
      [-2.5, '-2.5'],
      [60.1, '60.1'],
    ];
    for (const [x, s] of expect) assert.equal(formatG(x, 16), s, String(x));
  });
});

describe('envelopes', () => {
  it('encodes success, failure and bare responses byte for byte', () => {
    assert.equal(
      encodeSuccess(t.ref('session'), 'OpaqueRef:5f1c'),
      '<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>OpaqueRef:5f1c</value></member></struct></value></param></params></methodResponse>',
    );
    assert.equal(
      encodeFailure('SESSION_INVALID', ['OpaqueRef:5f1c']),
      '<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data><value>SESSION_INVALID</value><value>OpaqueRef:5f1c</value></data></array></value></member></struct></value></param></params></methodResponse>',
    );
    assert.equal(
      encodeBare(t.set(t.string), ['VM.get_all_records', 'system.listMethods']),
      '<?xml version="1.0"?><methodResponse><params><param><value><array><data><value>VM.get_all_records</value><value>system.listMethods</value></data></array></value></param></params></methodResponse>',
    );
  });

  it('parses its own responses back', () => {
    assert.deepEqual(parseMethodResponse(encodeSuccess(t.void, undefined)), { ok: true, value: '' });
    assert.deepEqual(parseMethodResponse(encodeFailure('HANDLE_INVALID', ['VM', 'OpaqueRef:x'])), {
      ok: false,
      error: ['HANDLE_INVALID', 'VM', 'OpaqueRef:x'],
    });
    assert.deepEqual(parseMethodResponse(encodeBare(t.set(t.string), ['a'])), { ok: true, value: ['a'] });
    assert.deepEqual(parseMethodResponse(encodeSuccess(stringMap, { Status: 'x' })), {
      ok: true,
      value: { Status: 'x' },
    });
  });

  it('reads a fault as ocaml-rpc does', () => {
    const body =
      '<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>4</int></value></member><member><name>faultString</name><value>Too many</value></member></struct></value></fault></methodResponse>';
    assert.deepEqual(parseMethodResponse(body), { ok: false, error: ['fault', '4', 'Too many'] });
  });
});

describe("npm xen-api's parser (@vates/xml-rpc) on our output", () => {
  it('accepts empty string, empty array, empty struct, dates, int64 strings and records', () => {
    assert.equal(xenApiParse(encodeSuccess(t.string, '')), '');
    assert.equal(xenApiParse(encodeSuccess(t.void, undefined)), '');
    assert.deepEqual(xenApiParse(encodeSuccess(t.set(t.ref('VM')), [])), []);
    assert.deepEqual(xenApiParse(encodeSuccess(stringMap, {})), {});
    assert.deepEqual(
      xenApiParse(encodeSuccess(t.datetime, '20240101T00:00:00Z')),
      new Date(Date.UTC(2024, 0, 1)),
    );
    assert.equal(xenApiParse(encodeSuccess(t.int, '9223372036854775807')), '9223372036854775807');
    assert.equal(xenApiParse(encodeSuccess(t.int32, 7)), 7);
    assert.equal(xenApiParse(encodeSuccess(t.float, 0.25)), 0.25);
    assert.equal(xenApiParse(encodeSuccess(t.string, `<&>"'`)), `<&>"'`);
    const rec = xenApiParse(
      encodeSuccess(t.map(t.ref('thing'), t.record('thing')), { 'OpaqueRef:1': { uuid: 'u' } }, resolve),
    );
    const got = (rec as Record<string, Record<string, unknown>>)['OpaqueRef:1'];
    assert.equal(got?.uuid, 'u');
    assert.equal(got?.memory, '0');
    assert.deepEqual(got?.tags, []);
    assert.deepEqual(got?.other_config, {});
  });

  it('returns the bare listMethods array and reads failures', () => {
    assert.deepEqual(xenApiParse(encodeBare(t.set(t.string), ['a.b'])), ['a.b']);
    assert.throws(() => xenApiParse(encodeFailure('SESSION_INVALID', ['r'])), /SESSION_INVALID/);
  });

  it('reads a task result fragment as _getTaskResult.mjs does', () => {
    const fragment = encodeValue(t.ref('VM'), 'OpaqueRef:9');
    assert.equal(
      xmlRpcParser.parse_value(parseXml(fragment + '\n', { normalize: false, trim: false })),
      'OpaqueRef:9',
    );
  });
});

describe('encodeMethodCall', () => {
  it('sends values the way npm xen-api does and round-trips through our parser', () => {
    const params = ['OpaqueRef:s', '', 5, 60.1, true, null, ['VM'], { a: 'x', skip: undefined }, 'a<b'];
    const body = encodeMethodCall('event.from', params);
    assert.equal(
      body,
      '<?xml version="1.0"?><methodCall><methodName>event.from</methodName><params>' +
        '<param><value>OpaqueRef:s</value></param><param><value></value></param><param><value>5</value></param>' +
        '<param><value><double>60.1</double></value></param><param><value><boolean>1</boolean></value></param>' +
        '<param><value><nil/></value></param><param><value><array><data><value>VM</value></data></array></value></param>' +
        '<param><value><struct><member><name>a</name><value>x</value></member></struct></value></param>' +
        '<param><value>a&lt;b</value></param></params></methodCall>',
    );
    const xenApiBody = formatXml(
      xmlRpcFormatter.format_methodCall({
        methodName: 'event.from',
        params: ['OpaqueRef:s', '', '5', 60.1, true, null, ['VM'], { a: 'x' }, 'a<b'],
      }),
      { indent: 0 },
    );
    assert.deepEqual(parseMethodCall(body), parseMethodCall(xenApiBody));
  });
});
