import type { BaseClient } from 'openid-client';
import { generators } from 'openid-client';

// What a browser does between a relying party and the lab's identity provider, over plain HTTP:
// keeps the IdP's cookies (by path, as a browser would), follows its redirects, reads and posts its
// login form, and stops at the relying party's redirect URI with the authorization response.

export type Stop =
  | { kind: 'callback'; url: string }
  | { kind: 'page'; url: string; status: number; html: string };

export class Browser {
  private readonly cookies = new Map<string, { value: string; path: string }>();

  constructor(private readonly redirectUri: string) {}

  /** GETs `url` and follows redirects until the redirect URI or a page. */
  async open(url: string): Promise<Stop> {
    return this.follow(await this.request(url, { method: 'GET' }), url);
  }

  /** Fills the login form of `page` and submits it, as a person clicking "Sign in". */
  async signIn(page: Stop, email: string, password: string): Promise<Stop> {
    if (page.kind !== 'page') throw new Error(`expected the login form, got the callback ${page.url}`);
    const action = /<form method="post" action="([^"]+)"/.exec(page.html)?.[1];
    if (!action || !/<label for="email">Email<\/label>/.test(page.html) || !/<label for="password">Password<\/label>/.test(page.html)) {
      throw new Error(`no login form on ${page.url} (${page.status}): ${page.html.slice(0, 300)}`);
    }
    const target = new URL(action.replace(/&amp;/g, '&'), page.url).href;
    const body = new URLSearchParams({ email, password }).toString();
    const res = await this.request(target, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    return this.follow(res, target);
  }

  private async follow(first: Response, firstUrl: string): Promise<Stop> {
    let res = first;
    let url = firstUrl;
    for (let hops = 0; hops < 20; hops++) {
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) {
        return { kind: 'page', url, status: res.status, html: await res.text() };
      }
      await res.arrayBuffer();
      url = new URL(location, url).href;
      if (url.startsWith(this.redirectUri)) return { kind: 'callback', url };
      res = await this.request(url, { method: 'GET' });
    }
    throw new Error(`more than 20 redirects from ${firstUrl}`);
  }

  private async request(url: string, init: { method: string; body?: string; headers?: Record<string, string> }): Promise<Response> {
    const path = new URL(url).pathname;
    const cookie = [...this.cookies.entries()]
      .filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, ...(cookie ? { cookie } : {}) } });
    for (const line of res.headers.getSetCookie()) this.keep(line, path);
    return res;
  }

  private keep(line: string, requestPath: string): void {
    const [pair, ...attributes] = line.split(';').map((p) => p.trim());
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq);
    const value = pair!.slice(eq + 1);
    let path = requestPath.slice(0, requestPath.lastIndexOf('/') + 1) || '/';
    let expired = value === '';
    for (const attribute of attributes) {
      const [key, val = ''] = attribute.split('=');
      if (key!.toLowerCase() === 'path') path = val;
      if (key!.toLowerCase() === 'expires' && Date.parse(val) <= Date.now()) expired = true;
      if (key!.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true;
    }
    if (expired) this.cookies.delete(name);
    else this.cookies.set(name, { value, path });
  }
}

/** One authorization request's secrets, as next-auth keeps them in its cookies: PKCE, state, nonce. */
export interface Checks {
  code_verifier: string;
  state: string;
  nonce: string;
}

export function authorizationRequest(client: BaseClient, params: Record<string, string | number> = {}): { url: string; checks: Checks } {
  const checks = { code_verifier: generators.codeVerifier(), state: generators.state(), nonce: generators.nonce() };
  const url = client.authorizationUrl({
    scope: 'openid email profile',
    code_challenge: generators.codeChallenge(checks.code_verifier),
    code_challenge_method: 'S256',
    state: checks.state,
    nonce: checks.nonce,
    ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
  });
  return { url, checks };
}
