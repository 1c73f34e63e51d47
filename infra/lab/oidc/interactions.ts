import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors, type Provider } from 'oidc-provider';
import { verifyCredentials, type LabOidcPasswords } from './accounts';
import { loginPage, messagePage, sendHtml } from './pages';

// The lab's own sign-in, in place of oidc-provider's development interactions (which accept any
// name and no password): a login form that checks the lab accounts' passwords, and a consent step
// granted without asking for the console, the one client registered (a first-party app, as an
// organisation's IdP would treat it).

export interface InteractionDeps {
  provider: Provider;
  clientId: string;
  passwords: LabOidcPasswords;
  /** How many seconds before now this sign-in is to be recorded; the lab's clock control (one use). */
  takeLoginAge: () => number;
  log: (line: string) => void;
}

const MAX_FORM_BYTES = 8 * 1024;
export const WRONG_CREDENTIALS = 'Wrong email or password.';
const EXPIRED =
  'This sign-in request has expired, was already completed, or was opened in another browser. Go back to the console and sign in again.';

/** Answers /interaction/{uid} (the login form, or the consent granted) and /interaction/{uid}/login (the form's post). */
export async function handleInteraction(req: IncomingMessage, res: ServerResponse, path: string, deps: InteractionDeps): Promise<void> {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(path);
  if (!match) return sendHtml(res, 404, messagePage('Not found', 'There is no such page on the lab identity provider.'));
  const [, uid, login] = match;
  const method = req.method ?? 'GET';
  try {
    if (!login && method === 'GET') await show(req, res, uid!, deps);
    else if (login && method === 'POST') await submitLogin(req, res, uid!, deps);
    else {
      res.setHeader('allow', login ? 'POST' : 'GET');
      sendHtml(res, 405, messagePage('Not allowed', `${method} is not supported here.`));
    }
  } catch (err) {
    if (err instanceof errors.SessionNotFound) {
      return sendHtml(res, 400, messagePage('Sign-in expired', EXPIRED));
    }
    if (err instanceof FormTooLargeError) {
      return sendHtml(res, 413, messagePage('Too large', 'The sign-in form sent more than it should.'));
    }
    deps.log(`identity provider: the sign-in page failed: ${(err as Error).message}`);
    if (!res.headersSent) sendHtml(res, 500, messagePage('Sign-in failed', 'The lab identity provider could not complete this step; see the lab log.'));
  }
}

async function show(req: IncomingMessage, res: ServerResponse, uid: string, deps: InteractionDeps): Promise<void> {
  const interaction = await deps.provider.interactionDetails(req, res);
  if (interaction.uid !== uid) return sendHtml(res, 400, messagePage('Sign-in expired', EXPIRED));
  const { prompt, params } = interaction;
  if (prompt.name === 'login') {
    const hint = typeof params.login_hint === 'string' ? params.login_hint : '';
    return sendHtml(res, 200, loginPage({ action: `/interaction/${uid}/login`, email: hint, clientName: await clientName(deps, params.client_id) }));
  }
  if (prompt.name === 'consent' && params.client_id === deps.clientId) return grantConsent(req, res, interaction, deps);
  sendHtml(res, 403, messagePage('Not offered', `The lab identity provider only signs in to its registered console; it does not ask "${prompt.name}".`));
}

async function submitLogin(req: IncomingMessage, res: ServerResponse, uid: string, deps: InteractionDeps): Promise<void> {
  const interaction = await deps.provider.interactionDetails(req, res);
  if (interaction.uid !== uid || interaction.prompt.name !== 'login') return sendHtml(res, 400, messagePage('Sign-in expired', EXPIRED));
  const form = new URLSearchParams(await readForm(req));
  const email = form.get('email') ?? '';
  const account = verifyCredentials(deps.passwords, email, form.get('password'));
  if (!account) {
    // Neither what was typed as the email nor the password is logged: people type one into the other.
    deps.log('identity provider: a sign-in with a wrong email or password was refused');
    const clientId = interaction.params.client_id;
    return sendHtml(res, 200, loginPage({ action: `/interaction/${uid}/login`, email, error: WRONG_CREDENTIALS, clientName: await clientName(deps, clientId) }));
  }
  const age = deps.takeLoginAge();
  const ts = Math.floor(Date.now() / 1000) - age;
  deps.log(`identity provider: ${account.email} signed in${age ? ` (recorded as ${age} s ago)` : ''}`);
  await deps.provider.interactionFinished(req, res, { login: { accountId: account.sub, ts, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
}

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

async function grantConsent(req: IncomingMessage, res: ServerResponse, interaction: Interaction, deps: InteractionDeps): Promise<void> {
  const { prompt, params, session, grantId } = interaction;
  const grant = grantId ? await deps.provider.Grant.find(grantId) : new deps.provider.Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
  if (!grant) return sendHtml(res, 400, messagePage('Sign-in expired', EXPIRED));
  const details = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const savedId = await grant.save();
  await deps.provider.interactionFinished(req, res, { consent: grantId ? {} : { grantId: savedId } }, { mergeWithLastSubmission: true });
}

async function clientName(deps: InteractionDeps, clientId: unknown): Promise<string> {
  const client = typeof clientId === 'string' ? await deps.provider.Client.find(clientId) : undefined;
  return client?.clientName ?? String(clientId ?? 'an application');
}

class FormTooLargeError extends Error {}

async function readForm(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new FormTooLargeError();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
