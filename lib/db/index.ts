import 'server-only';
export { tryDatabaseLogin, loginWithPassword, loginToDatabase, DEFAULT_LOGIN_TIMEOUT_MS } from './login';
export type { DatabaseLoginResult, DatabaseTarget, LoginStage, LoginOptions, KnownParameters } from './login';
