import { describe, expect, it } from 'vitest';
import { resolveRole, roleForSession } from '@/lib/roles';

const roles = {
  viewer: ['watcher@example.com', 'group:linkbox-readers'],
  operator: ['Oncall@Example.com', 'group:linkbox-oncall'],
  admin: ['boss@example.com'],
};

describe('role resolution from the config', () => {
  it('grants the role an email is listed under, ignoring case and surrounding spaces', () => {
    expect(resolveRole(roles, { email: 'watcher@example.com', groups: [] })).toBe('viewer');
    expect(resolveRole(roles, { email: ' oncall@example.COM ', groups: [] })).toBe('operator');
    expect(resolveRole(roles, { email: 'boss@example.com', groups: [] })).toBe('admin');
  });

  it('grants the role of an IdP group named with the group: prefix', () => {
    expect(resolveRole(roles, { email: 'someone@example.com', groups: ['linkbox-readers'] })).toBe('viewer');
    expect(resolveRole(roles, { email: 'someone@example.com', groups: ['other', 'linkbox-oncall'] })).toBe('operator');
  });

  it('gives the highest role when an email and a group grant different ones', () => {
    expect(resolveRole(roles, { email: 'watcher@example.com', groups: ['linkbox-oncall'] })).toBe('operator');
    expect(resolveRole(roles, { email: 'boss@example.com', groups: ['linkbox-readers'] })).toBe('admin');
  });

  it('grants nothing to someone neither listed nor in a listed group', () => {
    expect(resolveRole(roles, { email: 'stranger@example.com', groups: ['marketing'] })).toBeNull();
  });

  it('does not treat a group name as an email, nor an email as a group', () => {
    expect(resolveRole(roles, { email: 'group:linkbox-readers', groups: [] })).toBeNull();
    expect(resolveRole(roles, { email: 'x@example.com', groups: ['boss@example.com', 'group:linkbox-oncall'] })).toBeNull();
  });

  it('does not match an empty email against anything', () => {
    expect(resolveRole({ viewer: [''], operator: [], admin: [] }, { email: '', groups: [] })).toBeNull();
  });
});

describe('the role a session has', () => {
  const none = { viewer: [], operator: [], admin: [] };

  it('lets the config override the role a lab account name suggests', () => {
    const config = { mode: 'lab' as const, roles: { ...none, viewer: ['admin@linkbox.lab'] } };
    expect(roleForSession(config, { email: 'admin@linkbox.lab', groups: [] }, 'lab')).toBe('viewer');
  });

  it('gives a lab account no role when the config does not list it, whatever its name says', () => {
    const config = { mode: 'lab' as const, roles: none };
    expect(roleForSession(config, { email: 'admin@linkbox.lab', groups: [] }, 'lab')).toBeNull();
  });

  it('ends a lab-account session once the console runs in mode aws, even if the config lists the email', () => {
    const config = { mode: 'aws' as const, roles: { ...none, admin: ['admin@linkbox.lab'] } };
    expect(roleForSession(config, { email: 'admin@linkbox.lab', groups: [] }, 'lab')).toBeNull();
  });

  it('gives an IdP user the role the config grants their groups', () => {
    const config = { mode: 'aws' as const, roles: { ...none, operator: ['group:oncall'] } };
    expect(roleForSession(config, { email: 'a@example.com', groups: ['oncall'] }, 'oidc')).toBe('operator');
  });
});
