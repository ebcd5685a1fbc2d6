// Proves the datamodel is consistent and its derived artefacts are honest: every record class has
// a uuid, defaults conform to their types, inverse relations point at set fields, every error is
// documented, and the checked-in docs/api/ equals what the model generates now.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { ClassDef } from './define.js';
import { generateApiDocs } from './derive/docs.js';
import { implicitMessages, noAsyncClasses } from './derive/implicit.js';
import { conforms } from './derive/values.js';
import { errors } from './errors.js';
import { classDef, classes } from './index.js';
import { zeroOf } from './types.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const all = Object.entries(classes as Record<string, ClassDef>);

describe('datamodel', () => {
  it('gives every record class a uuid and conforming defaults', () => {
    for (const [name, def] of all) {
      assert.equal(def.name, name);
      if (Object.keys(def.fields).length === 0) continue;
      assert.ok(def.fields.uuid !== undefined, `${name} has a uuid`);
      for (const [f, fd] of Object.entries(def.fields)) {
        const v = fd.default !== undefined ? fd.default : zeroOf(fd.ty);
        assert.ok(conforms(fd.ty, v, classDef), `${name}.${f} default conforms`);
        assert.ok(fd.doc.length > 0, `${name}.${f} has a doc`);
      }
    }
  });

  it('declares inverses only from ref fields to set-of-ref fields of the target class', () => {
    for (const [name, def] of all) {
      for (const [f, fd] of Object.entries(def.fields)) {
        if (fd.inverse === undefined) continue;
        assert.equal(fd.ty.kind, 'ref', `${name}.${f}`);
        const target = fd.ty.kind === 'ref' ? classDef(fd.ty.cls) : undefined;
        const inv = target?.fields[fd.inverse];
        assert.ok(
          inv !== undefined && inv.ty.kind === 'set' && inv.ty.of.kind === 'ref' && inv.ty.of.cls === name,
          `${name}.${f} ↔ ${fd.inverse}`,
        );
      }
    }
  });

  it('does not let implicit and explicit messages collide', () => {
    for (const [, def] of all) {
      for (const im of implicitMessages(def)) assert.equal(def.messages[im.name], undefined);
    }
  });

  it('documents every error with a doc line', () => {
    for (const [code, e] of Object.entries(errors)) {
      assert.match(code, /^[A-Z0-9_]+$/);
      assert.ok(e.doc.length > 10, code);
    }
  });

  it('has docs/api/ up to date with the model (run `npm run gen:docs`)', () => {
    const dir = join(root, 'docs', 'api');
    const want = generateApiDocs(classes, noAsyncClasses);
    assert.deepEqual(readdirSync(dir).sort(), [...want.keys()].sort());
    for (const [name, text] of want)
      assert.equal(readFileSync(join(dir, name), 'utf8'), text, `docs/api/${name} is stale`);
    const errorsMd = readFileSync(join(dir, 'errors.md'), 'utf8');
    for (const code of Object.keys(errors)) assert.ok(errorsMd.includes(`\`${code}\``), code);
  });
});
