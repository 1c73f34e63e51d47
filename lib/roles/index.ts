// Who may do what: the Caller every data function takes, the three roles and how the config grants
// them. At the bottom of the console (it imports only the config's types), so the audit log, the
// operations and sign-in can all check a role without importing each other.
export { AuthorizationError, assertRole, hasRole, type Caller } from './caller';
export { resolveRole, type Principal } from './resolve';
