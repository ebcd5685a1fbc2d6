// API errors as xe prints them: the error's doc line from the datamodel, then one
// `param: value` line per declared parameter, references shown as `uuid (name-label)`.
import { errors } from '../model/errors.js';
import { classDef } from '../model/index.js';
import { XapiCallError, type XapiClient } from '../rpc/client.js';

/** Known error parameter names that hold a reference, and the class they refer to. */
function refClass(param: string, code: string, params: readonly string[]): string | undefined {
  const byName =
    classDef(param) ?? classDef(param.toUpperCase()) ?? (param === 'vm' ? classDef('VM') : undefined);
  if (byName !== undefined) return byName.name;
  if (code === 'HANDLE_INVALID' && param === 'handle') return params[0];
  return undefined;
}

async function describeRef(api: XapiClient, cls: string, ref: string): Promise<string> {
  try {
    const rec = (await api.callSession(`${cls}.get_record`, ref)) as Record<string, unknown>;
    return typeof rec.name_label === 'string' ? `${String(rec.uuid)} (${rec.name_label})` : String(rec.uuid);
  } catch {
    return ref;
  }
}

/** Classes tried, in order, for a reference whose parameter name does not say its class. */
const likely = ['VM', 'host', 'SR', 'VDI', 'VBD', 'VIF', 'network', 'PBD', 'PIF', 'task', 'pool'];

async function describeAnyRef(api: XapiClient, cls: string | undefined, ref: string): Promise<string> {
  for (const c of cls !== undefined ? [cls] : likely) {
    const text = await describeRef(api, c, ref);
    if (text !== ref) return text;
  }
  return ref;
}

/** An API error as xe prints it: the error's doc line, then each named parameter. */
export async function formatApiError(api: XapiClient | undefined, e: XapiCallError): Promise<string> {
  const decl = (errors as Record<string, { params: readonly string[]; doc: string } | undefined>)[e.code];
  if (decl === undefined) return `Error code: ${e.code}\nError parameters: ${e.params.join(', ')}\n`;
  const lines = [decl.doc];
  for (let i = 0; i < e.params.length; i++) {
    const name = decl.params[i] ?? `param${i}`;
    let value = e.params[i] ?? '';
    const cls = refClass(name, e.code, e.params);
    if (api !== undefined && value.startsWith('OpaqueRef:')) value = await describeAnyRef(api, cls, value);
    lines.push(`${name}: ${value}`);
  }
  return lines.join('\n') + '\n';
}
