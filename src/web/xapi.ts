// The console's XenAPI client: JSON-RPC 2.0 on POST /jsonrpc of the host that served the page.
// Errors arrive as XenAPI errors (a code and its parameters), which forms show beside their fields.

export class XapiError extends Error {
  constructor(
    readonly code: string,
    readonly params: string[],
  ) {
    super(params.length > 0 ? `${code}: ${params.join(', ')}` : code);
  }
}

let nextId = 1;

/** One call; rejects with XapiError for a XenAPI error, Error when the host cannot be reached. */
export async function call<T = unknown>(method: string, params: unknown[]): Promise<T> {
  const res = await fetch('/jsonrpc', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: nextId++ }),
  });
  const msg = (await res.json()) as { result?: unknown; error?: { message?: unknown; data?: unknown } };
  if (msg.error !== undefined && msg.error !== null) {
    const data = Array.isArray(msg.error.data) ? msg.error.data.map(String) : [];
    throw new XapiError(String(msg.error.message), data);
  }
  return msg.result as T;
}

/** A logged-in session: calls take the session ref as their first parameter. */
export class Session {
  private constructor(readonly ref: string) {}

  static async login(user: string, password: string): Promise<Session> {
    return new Session(
      await call<string>('session.login_with_password', [user, password, '1.0', 'poolstack-web']),
    );
  }

  call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    return call<T>(method, [this.ref, ...params]);
  }

  async logout(): Promise<void> {
    await call('session.logout', [this.ref]).catch(() => undefined);
  }
}
