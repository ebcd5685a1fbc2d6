// API errors as xe prints them (cli_util.ml server_error): the error's doc line from the
// datamodel, then one `param: value` line per declared parameter, references shown as
// `uuid (name-label)`; surplus values as `<extra>: v`, missing ones as `name: <unknown>`.
import { errors } from '../model/errors.js';
import { classDef } from '../model/index.js';
import type { XapiCallError } from '../rpc/client.js';

/** Calls the API under xe's session (undefined when xe never got one, e.g. its login failed). */
export type SessionCall = (method: string, ...args: unknown[]) => Promise<unknown>;

/**
 * Parameter names xe prints where xapi's datamodel_errors.ml names them differently from our
 * model (whose names are identifiers): xe shows xapi's labels.
 */
const xapiParamNames: Record<string, readonly string[]> = {
  HOST_IS_SLAVE: ['Master IP address'],
  POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION: ['host_api_version', 'master_api_version'],
};

/** Known error parameter names that hold a reference, and the class they refer to. */
function refClass(param: string, code: string, params: readonly string[]): string | undefined {
  const byName =
    classDef(param) ?? classDef(param.toUpperCase()) ?? (param === 'vm' ? classDef('VM') : undefined);
  if (byName !== undefined) return byName.name;
  if (code === 'HANDLE_INVALID' && param === 'handle') return params[0];
  return undefined;
}

async function describeRef(call: SessionCall, cls: string, ref: string): Promise<string> {
  try {
    const rec = (await call(`${cls}.get_record`, ref)) as Record<string, unknown>;
    return typeof rec.name_label === 'string' ? `${String(rec.uuid)} (${rec.name_label})` : String(rec.uuid);
  } catch {
    return ref;
  }
}

/** Classes tried, in order, for a reference whose parameter name does not say its class. */
const likely = ['VM', 'host', 'SR', 'VDI', 'VBD', 'VIF', 'network', 'PBD', 'PIF', 'task', 'pool'];

async function describeAnyRef(call: SessionCall, cls: string | undefined, ref: string): Promise<string> {
  for (const c of cls !== undefined ? [cls] : likely) {
    const text = await describeRef(call, c, ref);
    if (text !== ref) return text;
  }
  return ref;
}

/** An API error as xe prints it: the error's doc line, then each named parameter. */
export async function formatApiError(call: SessionCall | undefined, e: XapiCallError): Promise<string> {
  const decl = (errors as Record<string, { params: readonly string[]; doc: string } | undefined>)[e.code];
  if (decl === undefined) return `Error code: ${e.code}\nError parameters: ${e.params.join(', ')}\n`;
  const labels = xapiParamNames[e.code] ?? decl.params;
  const lines = [decl.doc];
  for (let i = 0; i < Math.max(e.params.length, labels.length); i++) {
    const label = labels[i] ?? '<extra>';
    let value = e.params[i];
    if (value === undefined) {
      lines.push(`${label}: <unknown>`);
      continue;
    }
    const cls = refClass(decl.params[i] ?? '', e.code, e.params);
    if (call !== undefined && value.startsWith('OpaqueRef:')) value = await describeAnyRef(call, cls, value);
    lines.push(`${label}: ${value}`);
  }
  return lines.join('\n') + '\n';
}
