// docs/api/ generated from the model: one page per class (fields, explicit and implicit messages)
// plus the error table. `poolstack gen-docs` writes them; a test fails when they are stale.
import type { ClassDef, MessageDef } from '../define.js';
import { errors } from '../errors.js';
import { tyName } from '../types.js';
import { implicitMessages } from './implicit.js';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function signature(cls: string, name: string, m: MessageDef): string {
  const params = (m.sessionless ? [] : ['session ref session_id'])
    .concat(
      m.params.map(
        (p) => `${tyName(p.ty)} ${p.name}${p.default !== undefined ? ` = ${JSON.stringify(p.default)}` : ''}`,
      ),
    )
    .join(', ');
  return `${tyName(m.result)} ${cls}.${name}(${params})`;
}

function classPage(def: ClassDef, noAsync: boolean): string {
  const lines = [`# Class: ${def.name}`, '', def.doc, ''];
  if (!def.persist)
    lines.push('Objects of this class are not persistent: they are lost when the daemon restarts.', '');
  const fields = Object.entries(def.fields);
  if (fields.length > 0) {
    lines.push('## Fields', '', '| field | type | qualifier | description |', '| --- | --- | --- | --- |');
    for (const [name, f] of fields) {
      const notes = `${f.deprecated === true ? '**Deprecated.** ' : ''}${f.doc}`;
      lines.push(`| \`${name}\` | \`${cell(tyName(f.ty))}\` | ${f.qualifier} | ${cell(notes)} |`);
    }
    lines.push('');
  }
  const explicit = Object.entries(def.messages);
  if (explicit.length > 0) {
    lines.push('## Messages', '');
    for (const [name, m] of explicit) {
      lines.push(
        `### ${name}`,
        '',
        '```',
        signature(def.name, name, m),
        '```',
        '',
        m.doc === '' ? '(no description)' : m.doc,
        '',
      );
      for (const p of m.params) lines.push(`- \`${p.name}\`: ${cell(p.doc)}`);
      if (m.params.length > 0) lines.push('');
      lines.push(
        `Minimum role: ${m.roles}.${m.async && !noAsync ? ` Also callable as \`Async.${def.name}.${name}\`.` : ''}`,
        '',
      );
      if (m.errors.length > 0) lines.push(`Errors: ${m.errors.map((e) => `\`${e}\``).join(', ')}.`, '');
    }
  }
  const implicit = implicitMessages(def);
  if (implicit.length > 0) {
    lines.push('## Implicit messages', '', 'Derived from the fields above.', '');
    for (const im of implicit) lines.push(`- \`${signature(def.name, im.name, im.def)}\``);
    lines.push('');
  }
  return lines.join('\n');
}

function errorsPage(): string {
  const lines = [
    '# Errors',
    '',
    'Every error is returned as `[CODE, param1, param2, …]` (XML-RPC `ErrorDescription`, JSON-RPC `error.data`).',
    '',
    '| code | parameters | description |',
    '| --- | --- | --- |',
  ];
  for (const [code, e] of Object.entries(errors)) {
    lines.push(`| \`${code}\` | ${e.params.map((p) => `\`${p}\``).join(', ')} | ${cell(e.doc)} |`);
  }
  return lines.join('\n') + '\n';
}

/** File name → contents for docs/api/. */
export function generateApiDocs(
  classes: Record<string, ClassDef>,
  noAsyncClasses: ReadonlySet<string>,
): Map<string, string> {
  const out = new Map<string, string>();
  const index = [
    '# XenAPI reference',
    '',
    'Generated from `src/model/` by `npm run gen:docs`; do not edit by hand.',
    '',
    '## Classes',
    '',
  ];
  for (const [name, def] of Object.entries(classes)) {
    out.set(`${name}.md`, classPage(def, noAsyncClasses.has(name)));
    index.push(`- [${name}](${name}.md): ${def.doc}`);
  }
  index.push('', '## Errors', '', '- [errors](errors.md)', '');
  out.set('errors.md', errorsPage());
  out.set('README.md', index.join('\n'));
  return out;
}
