import { describe, expect, it } from 'vitest';
import { resolveRole } from '@/lib/roles';

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
