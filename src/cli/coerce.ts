// Turns the text of an xe argument into the API value its field's type wants: uuids into refs
// (an empty value is the null ref, as `default-SR=` clears the pool's default SR), enums matched
// case-insensitively, sets as comma lists.
import type { Ty } from '../model/types.js';
import { NULL_REF } from '../model/types.js';
import { CliError, type CliCtx } from './context.js';

export async function coerceCli(ctx: CliCtx, ty: Ty, text: string, name: string): Promise<unknown> {
  switch (ty.kind) {
    case 'string':
    case 'datetime':
      return text;
    case 'int':
    case 'int32': {
      // Memory and sizes accept xe's bytes_of_string suffixes (4GiB, 512MiB).
      const sized = /^(\d+)\s*(KiB|MiB|GiB|TiB|K|M|G|T)$/i.exec(text);
      if (sized !== null && /memory|size/i.test(name)) {
        const unit = (sized[2] ?? '').toUpperCase()[0] ?? '';
        return String(Number(sized[1]) * ({ K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[unit] ?? 1));
      }
      if (!/^-?\d+$/.test(text)) throw new CliError(`Parameter ${name} must be an integer`);
      return text;
    }
    case 'float':
      if (!Number.isFinite(Number(text)) || text.trim() === '')
        throw new CliError(`Parameter ${name} must be a floating-point number`);
      return Number(text);
    case 'bool': {
      const t = text.toLowerCase();
      if (t === 'true' || t === 'yes' || t === '1' || t === 'on') return true;
      if (t === 'false' || t === 'no' || t === '0' || t === 'off') return false;
      throw new CliError(`Parameter ${name} must be a boolean (true or false)`);
    }
    case 'enum': {
      const hit = ty.values.find((v) => v.toLowerCase() === text.toLowerCase());
      if (hit === undefined)
        throw new CliError(
          `Invalid value for ${name}: '${text}'; expected one of ${ty.values.map((v) => v.toLowerCase()).join(', ')}`,
        );
      return hit;
    }
    case 'ref':
      if (text === '' || text === NULL_REF) return NULL_REF;
      return ctx.call(`${ty.cls}.get_by_uuid`, text);
    case 'set':
      return Promise.all(
        text
          .split(',')
          .filter((x) => x !== '')
          .map((x) => coerceCli(ctx, ty.of, x.trim(), name)),
      );
    default:
      throw new CliError(`Parameter ${name} cannot be set this way; use ${name}:key=value`);
  }
}
