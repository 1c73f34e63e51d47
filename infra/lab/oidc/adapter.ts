import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';

// Where the identity provider keeps sessions, interactions, codes, tokens and grants: memory, one
// store per provider, gone with the lab (like everything else the lab holds). oidc-provider ships a
// memory adapter too, but only for its quick start (it warns on every start, and is not exported);
// this is the same contract, with the indexes the provider looks things up by.

/** Models whose entries belong to a grant, so revoking the grant removes them. */
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

interface Entry {
  payload: AdapterPayload;
  /** Epoch ms; undefined never expires. */
  expiresAt?: number;
}

export function createMemoryAdapterFactory(): AdapterFactory {
  const entries = new Map<string, Entry>();
  const sessionByUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();
  const grantMembers = new Map<string, Set<string>>();

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  return (model: string): Adapter => {
    const key = (id: string) => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        entries.set(key(id), {
          payload: structuredClone(payload),
          expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined,
        });
        if (model === 'Session' && payload.uid) sessionByUid.set(payload.uid, id);
        if (payload.userCode) byUserCode.set(payload.userCode, id);
        if (GRANTABLE.has(model) && payload.grantId) {
          const members = grantMembers.get(payload.grantId) ?? new Set<string>();
          members.add(key(id));
          grantMembers.set(payload.grantId, members);
        }
      },
      async find(id) {
        const entry = live(key(id));
        return entry ? structuredClone(entry.payload) : undefined;
      },
      async findByUid(uid) {
        const id = sessionByUid.get(uid);
        const entry = id === undefined ? undefined : live(key(id));
        return entry ? structuredClone(entry.payload) : undefined;
      },
      async findByUserCode(userCode) {
        const id = byUserCode.get(userCode);
        const entry = id === undefined ? undefined : live(key(id));
        return entry ? structuredClone(entry.payload) : undefined;
      },
      async consume(id) {
        const entry = live(key(id));
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        const entry = entries.get(key(id));
        entries.delete(key(id));
        if (entry?.payload.uid && sessionByUid.get(entry.payload.uid) === id) sessionByUid.delete(entry.payload.uid);
        if (entry?.payload.userCode && byUserCode.get(entry.payload.userCode) === id) byUserCode.delete(entry.payload.userCode);
      },
      async revokeByGrantId(grantId) {
        for (const member of grantMembers.get(grantId) ?? []) entries.delete(member);
        grantMembers.delete(grantId);
      },
    };
  };
}
