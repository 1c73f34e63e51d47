// Signing in to the console through the lab's identity provider, as a browser does, with fetch:
// next-auth's OIDC start, the IdP's login form, the callback. For scripts that reach a running
// console over HTTP (the benchmarks, the standalone smoke test); e2e specs use Chromium instead.

/** Signs `email` in at `consoleUrl` (its IdP is the lab's); returns the console's Cookie header. */
export async function signInThroughLabIdp(consoleUrl: string, email: string, password: string): Promise<string> {
  // One browser's cookies (the console's and the IdP's share the host 127.0.0.1; their names differ).
  const jar = new Map<string, string>();
  const send = async (target: string, init: { method?: string; form?: Record<string, string> } = {}) => {
    const res = await fetch(target, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: init.form ? new URLSearchParams(init.form) : undefined,
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attributes] = c.split(';');
      const eq = pair!.indexOf('=');
      const gone = pair!.slice(eq + 1) === '' || attributes.some((a) => /^\s*max-age=0$/i.test(a));
      if (gone) jar.delete(pair!.slice(0, eq));
      else jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  };
  /** Follows redirects; stops at a page, or once the IdP sends the browser back to the console. */
  const follow = async (res: Response, from: string): Promise<{ res: Response; at: string }> => {
    let at = from;
    for (let hops = 0; hops < 20 && res.status >= 300 && res.status < 400; hops++) {
      at = new URL(res.headers.get('location')!, at).href;
      await res.arrayBuffer();
      res = await send(at);
      if (at.startsWith(`${consoleUrl}/`)) return { res, at };
    }
    return { res, at };
  };
  const fail = (what: string) => new Error(`signing in ${email} failed: ${what}`);

  const csrf = await send(`${consoleUrl}/api/auth/csrf`);
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const start = await send(`${consoleUrl}/api/auth/signin/oidc`, { method: 'POST', form: { csrfToken, callbackUrl: `${consoleUrl}/`, json: 'true' } });
  const authorize = ((await start.json()) as { url: string }).url;
  const form = await follow(await send(authorize), authorize);
  const action = /<form method="post" action="([^"]+)"/.exec(await form.res.text())?.[1];
  if (!action) throw fail(`no login form at ${form.at} (HTTP ${form.res.status})`);
  const login = new URL(action.replace(/&amp;/g, '&'), form.at).href;
  const back = await follow(await send(login, { method: 'POST', form: { email, password } }), login);
  await back.res.arrayBuffer();
  if (![...jar.keys()].some((k) => k.endsWith('next-auth.session-token'))) throw fail(`the console set no session (last HTTP ${back.res.status} at ${back.at})`);
  return [...jar].filter(([k]) => k.startsWith('next-auth.') || k.startsWith('__Secure-next-auth.')).map(([k, v]) => `${k}=${v}`).join('; ');
}
