// What the LinkBox backend sends to PostgreSQL for a given set of SSM parameters: user, password,
// host, port and database as psycopg2 hands them to libpq, or the stage where the chain stops. The
// chain is start_application.sh (unquoted `-e DATABASE_URL=$DATABASE_URL`), Pydantic's AnyUrl
// (pydantic 2.13.4, pydantic-core 2.46.4, url crate 2.5.8), SQLAlchemy 2.0.52's make_url and psycopg2
// create_connect_args; docs/backend-url-parsing.md says how each rule was derived.
//
// Plain data, shared by two independent implementations: the lab's model of the backend
// (infra/lab/hosts/database-url.ts) and, later, the console's check that predicts what the backend
// will send. Every row except the NUL one was also run through the real pydantic, SQLAlchemy and
// bash (tests/support/database-url-oracle.py); the NUL row's last step (psycopg2) is from its source.
//
// `null` means the value is not sent and libpq's default applies: no user → the container's OS user
// (root), no password → none ("fe_sendauth: no password supplied"), no host → the Unix socket, no
// database → the user name. Stages: 'docker-run' (the container never starts), 'settings' (the app
// dies importing its settings: a pydantic ValidationError), 'create-engine' (the app dies creating
// its engine), 'connect' (the app runs; every connection attempt fails).

/** The endpoint moto gives linkbox-db, as SSM's db-endpoint holds it. */
export const ENDPOINT = 'linkbox-db.aaaaaaaaaa.us-east-1.rds.amazonaws.com';

export interface DatabaseUrlCase {
  /** What the row shows. */
  name: string;
  /** The SSM parameters; omitted ones are username "linkbox", name "linkbox", endpoint ENDPOINT. */
  ssm: { endpoint?: string; username?: string; password: string; name?: string };
  backend:
    | { sends: { user: string | null; password: string | null; host: string | null; port: number; database: string | null } }
    | { fails: { stage: 'docker-run' | 'settings' | 'create-engine' | 'connect'; error: string } };
}

/** The four SSM values of a case, with the defaults filled in. */
export function ssmValues(c: DatabaseUrlCase): { endpoint: string; username: string; password: string; name: string } {
  return { endpoint: c.ssm.endpoint ?? ENDPOINT, username: c.ssm.username ?? 'linkbox', password: c.ssm.password, name: c.ssm.name ?? 'linkbox' };
}

export const DATABASE_URL_CASES: DatabaseUrlCase[] = [
  {
    name: 'a URL-safe password (what rotation generates) passes unchanged',
    ssm: { password: 'Q7vLx2-pT_9.kR~m4ZsW8bN3cYh6J0dFa' },
    backend: { sends: { user: 'linkbox', password: 'Q7vLx2-pT_9.kR~m4ZsW8bN3cYh6J0dFa', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '%41 is decoded: RDS and SSM hold "%41", the backend sends "A"',
    ssm: { password: 'abc%41def' },
    backend: { sends: { user: 'linkbox', password: 'abcAdef', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '%2F and %40 are decoded to "/" and "@"',
    ssm: { password: 'p%2Fq%40r' },
    backend: { sends: { user: 'linkbox', password: 'p/q@r', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: 'a lone % stays',
    ssm: { password: '100%' },
    backend: { sends: { user: 'linkbox', password: '100%', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '% before two letters that are not hex stays',
    ssm: { password: 'abc%zzdef' },
    backend: { sends: { user: 'linkbox', password: 'abc%zzdef', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '% before two hex digits becomes a byte: an invalid UTF-8 byte turns into U+FFFD',
    ssm: { password: 'abc%def' },
    backend: { sends: { user: 'linkbox', password: 'abc\uFFFDf', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '%FF alone is invalid UTF-8 too',
    ssm: { password: 'x%FFy' },
    backend: { sends: { user: 'linkbox', password: 'x\uFFFDy', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '%E2%82%AC decodes to the euro sign',
    ssm: { password: 'eur%E2%82%ACo' },
    backend: { sends: { user: 'linkbox', password: 'eur€o', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '%00 becomes a NUL that psycopg2 cannot pass',
    ssm: { password: 'nul%00byte' },
    backend: { fails: { stage: 'connect', error: 'ValueError: embedded null character' } },
  },
  {
    name: '# ends the authority: the rest of the password is read as a port, which fails',
    ssm: { password: 'ab#cd' },
    backend: { fails: { stage: 'settings', error: 'Input should be a valid URL, invalid port number' } },
  },
  {
    name: '# after digits: pydantic reads a port and a fragment, SQLAlchemy re-reads the whole password',
    ssm: { password: '12#34' },
    backend: { sends: { user: 'linkbox', password: '12#34', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '? ends the authority too: invalid port',
    ssm: { password: 'ab?cd' },
    backend: { fails: { stage: 'settings', error: 'Input should be a valid URL, invalid port number' } },
  },
  {
    name: '? after digits survives the same way as #',
    ssm: { password: '12?a=b' },
    backend: { sends: { user: 'linkbox', password: '12?a=b', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '/ ends the authority: invalid port',
    ssm: { password: 'pa/ss' },
    backend: { fails: { stage: 'settings', error: 'Input should be a valid URL, invalid port number' } },
  },
  {
    name: '/ after digits: a path for pydantic, the password again for SQLAlchemy',
    ssm: { password: '12/ss' },
    backend: { sends: { user: 'linkbox', password: '12/ss', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '/.. after digits: pydantic normalises the path, so a segment of the password disappears',
    ssm: { password: '1/../b' },
    backend: { sends: { user: 'linkbox', password: '1/b', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '/ after digits, then @: SQLAlchemy takes the part after the first @ for the host',
    ssm: { password: '12/x@y' },
    backend: { sends: { user: 'linkbox', password: '12/x', host: `y@${ENDPOINT}`, port: 5432, database: 'linkbox' } },
  },
  {
    name: 'a leading / leaves no credentials at all: no user, no password, host "linkbox"',
    ssm: { password: '/abc' },
    backend: { sends: { user: null, password: null, host: 'linkbox', port: 5432, database: `abc@${ENDPOINT}:5432/linkbox` } },
  },
  {
    name: '@ is repaired: the last @ ends the credentials and the earlier ones are encoded',
    ssm: { password: 'pa@ss' },
    backend: { sends: { user: 'linkbox', password: 'pa@ss', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '@ at the start',
    ssm: { password: '@abc' },
    backend: { sends: { user: 'linkbox', password: '@abc', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '@ at the end',
    ssm: { password: 'abc@' },
    backend: { sends: { user: 'linkbox', password: 'abc@', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: ': in the password is kept (only the first : splits user from password)',
    ssm: { password: 'pa:ss' },
    backend: { sends: { user: 'linkbox', password: 'pa:ss', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: 'a password of a single :',
    ssm: { password: ':' },
    backend: { sends: { user: 'linkbox', password: ':', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: ': and @ together',
    ssm: { password: 'a:b@c' },
    backend: { sends: { user: 'linkbox', password: 'a:b@c', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: 'a space splits the unquoted $DATABASE_URL: docker takes the rest for the image',
    ssm: { password: 'pa ss' },
    backend: { fails: { stage: 'docker-run', error: 'docker: invalid reference format.' } },
  },
  {
    name: 'two spaces: the middle piece is a valid image name, which docker tries to pull',
    ssm: { password: 'a b c' },
    backend: { fails: { stage: 'docker-run', error: 'docker: Error response from daemon: pull access denied for <part of DATABASE_URL>, repository does not exist or may require \'docker login\'' } },
  },
  {
    name: '+ is not a space here (only a query would make it one)',
    ssm: { password: 'pa+ss' },
    backend: { sends: { user: 'linkbox', password: 'pa+ss', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: 'backslash, brackets, braces, caret, pipe, quotes, backtick, angle brackets, ; = & $ * are encoded and decoded back',
    ssm: { password: 'a\\b[c]d{e}f^g|h"i\'j`k<l>m;n=o&p$q*r' },
    backend: { sends: { user: 'linkbox', password: 'a\\b[c]d{e}f^g|h"i\'j`k<l>m;n=o&p$q*r', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: 'non-ASCII letters survive (encoded as UTF-8, decoded back)',
    ssm: { password: 'pässwörd' },
    backend: { sends: { user: 'linkbox', password: 'pässwörd', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: 'an emoji survives',
    ssm: { password: 'pw🔑key' },
    backend: { sends: { user: 'linkbox', password: 'pw🔑key', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: 'an empty password is not sent at all',
    ssm: { password: '' },
    backend: { sends: { user: 'linkbox', password: null, host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: ': in the user name moves the rest of it into the password',
    ssm: { username: 'link:box', password: 'secret' },
    backend: { sends: { user: 'link', password: 'box:secret', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '@ in the user name is repaired like one in the password',
    ssm: { username: 'link@box', password: 'secret' },
    backend: { sends: { user: 'link@box', password: 'secret', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: '%41 in the user name is decoded too',
    ssm: { username: 'link%41box', password: 'secret' },
    backend: { sends: { user: 'linkAbox', password: 'secret', host: ENDPOINT, port: 5432, database: 'linkbox' } },
  },
  {
    name: 'the database name is not percent-decoded by SQLAlchemy 2.0',
    ssm: { password: 'secret', name: 'linkbox%41' },
    backend: { sends: { user: 'linkbox', password: 'secret', host: ENDPOINT, port: 5432, database: 'linkbox%41' } },
  },
  {
    name: 'an upper-case endpoint stays upper-case (an opaque host is not lower-cased)',
    ssm: { password: 'secret', endpoint: ENDPOINT.toUpperCase() },
    backend: { sends: { user: 'linkbox', password: 'secret', host: ENDPOINT.toUpperCase(), port: 5432, database: 'linkbox' } },
  },

];
