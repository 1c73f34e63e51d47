import { expect, type Page } from '@playwright/test';
import { labUrl } from './lab';

// Signing in and out as a person does: the console's "Sign in with single sign-on", then the lab
// identity provider's own login page (a real OpenID Connect provider), then back to the console.

export type LabRole = 'viewer' | 'operator' | 'admin';
/** The roles, and the account whose email the IdP has not verified. */
export type LabPerson = LabRole | 'unverified';

export function labAccount(person: LabPerson): { email: string; password: string } {
  const variable = `LAB_${person.toUpperCase()}_PASSWORD`;
  const password = process.env[variable];
  if (!password) throw new Error(`${variable} is not set: playwright.config.ts sets the lab passwords`);
  return { email: `${person}@linkbox.lab`, password };
}

export interface IdentityProvider {
  issuer: string;
  clientSecret: string;
  nextLoginUrl: string;
}

export async function identityProvider(): Promise<IdentityProvider> {
  const res = await fetch(`${labUrl()}/_lab/state`);
  if (!res.ok) throw new Error(`the lab state endpoint answered ${res.status}`);
  return ((await res.json()) as { oidc: IdentityProvider }).oidc;
}

/** The IdP's clock control: its next sign-in is recorded as typed this many seconds ago (auth_time). */
export async function ageNextIdpSignIn(seconds: number): Promise<void> {
  const res = await fetch((await identityProvider()).nextLoginUrl, { method: 'POST', body: JSON.stringify({ authTimeAgeSeconds: seconds }) });
  expect(res.status).toBe(200);
}

/** Fills the IdP's login form, once the console has sent the browser there. */
export async function signInAtIdp(page: Page, person: LabPerson, password = labAccount(person).password): Promise<void> {
  const { issuer } = await identityProvider();
  await page.waitForURL(`${issuer}/interaction/**`);
  await page.getByLabel('Email').fill(labAccount(person).email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/**
 * A new person at this browser: the IdP forgets whoever signed in there last (as if they had signed
 * out of it), so its login page asks again. The console's and the IdP's cookies share the host
 * 127.0.0.1; only the IdP's are named _session.
 */
export async function forgetIdpSession(page: Page): Promise<void> {
  await page.context().clearCookies({ name: /^_session/ });
}

export async function signIn(page: Page, person: LabRole, path = '/'): Promise<void> {
  await forgetIdpSession(page);
  await page.goto(path);
  await expect(page).toHaveURL(/\/signin/);
  await page.getByRole('button', { name: 'Sign in with single sign-on' }).click();
  await signInAtIdp(page, person);
  await expect(page.getByRole('group', { name: 'Signed-in user' })).toContainText(labAccount(person).email);
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin/);
  await expect(page.getByRole('button', { name: 'Sign in with single sign-on' })).toBeVisible();
}
