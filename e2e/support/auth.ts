import { expect, type Page } from '@playwright/test';

// Signing in and out through the real form, as a person would.

export type LabRole = 'viewer' | 'operator' | 'admin';

export function labAccount(role: LabRole): { email: string; password: string } {
  const variable = `LAB_${role.toUpperCase()}_PASSWORD`;
  const password = process.env[variable];
  if (!password) throw new Error(`${variable} is not set: playwright.config.ts sets the lab passwords`);
  return { email: `${role}@linkbox.lab`, password };
}

export async function signIn(page: Page, role: LabRole, path = '/'): Promise<void> {
  const { email, password } = labAccount(role);
  await page.goto(path);
  await expect(page).toHaveURL(/\/signin/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('group', { name: 'Signed-in user' })).toContainText(email);
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin/);
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
}
