import type { ServerResponse } from 'node:http';

// The identity provider's few pages: plain HTML, no script, labelled so a person and Playwright
// find the fields by name ("Email", "Password", "Sign in").

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
body { font-family: system-ui, sans-serif; background: #f4f5f7; color: #1f2328; margin: 0; }
main { max-width: 22rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 3px #0002; }
h1 { font-size: 1.25rem; margin: 0 0 .25rem; }
p.lead { color: #57606a; margin: 0 0 1.5rem; font-size: .9rem; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; border: 1px solid #8c959f; border-radius: 4px; }
button { margin-top: 1.5rem; width: 100%; padding: .6rem; font-size: 1rem; background: #0969da; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
[role=alert] { background: #ffebe9; border: 1px solid #ff818266; color: #82071e; padding: .5rem .75rem; border-radius: 4px; }
`;

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body>
</html>
`;
}

export function loginPage(options: { action: string; email: string; error?: string; clientName: string }): string {
  const error = options.error ? `<p role="alert" id="login-error">${escapeHtml(options.error)}</p>` : '';
  return page(
    'Sign in — LinkBox lab identity provider',
    `<h1>Sign in</h1>
<p class="lead">LinkBox lab identity provider, for ${escapeHtml(options.clientName)}</p>
${error}
<form method="post" action="${escapeHtml(options.action)}" novalidate>
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(options.email)}"${options.email ? '' : ' autofocus'}>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required${options.email ? ' autofocus' : ''}>
  <button type="submit">Sign in</button>
</form>`,
  );
}

export function messagePage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(message)}</p>`);
}

/** No page of the IdP is cached, framed or allowed to run script. */
export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    'x-content-type-options': 'nosniff',
  });
  res.end(html);
}
