import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DATABASE_URL_CASES, ssmValues } from './database-url-cases';

// Checks database-url-cases.ts against the real components (database-url-oracle.py): run by hand
// after changing the table, e.g.
//   PYTHONPATH=/tmp/sqlalchemy-2.0/lib:/usr/lib/python3/dist-packages npx tsx tests/support/database-url-oracle.ts
// It prints each row the real chain disagrees with and exits 1 if there is one. Not part of the
// test suite: CI machines have neither pydantic nor SQLAlchemy.

interface OracleResult {
  stage?: string;
  error?: string;
  opts?: Record<string, string>;
}

const script = fileURLToPath(new URL('./database-url-oracle.py', import.meta.url));
const run = spawnSync('python3', [script], { input: JSON.stringify(DATABASE_URL_CASES.map(ssmValues)), encoding: 'utf8' });
if (run.status !== 0) {
  console.error(run.stderr);
  process.exit(2);
}
const { versions, results } = JSON.parse(run.stdout) as { versions: Record<string, string | null>; results: OracleResult[] };
console.log(`real chain: ${Object.entries(versions).map(([k, v]) => `${k} ${v ?? '(not available)'}`).join(', ')}`);

let disagreements = 0;
DATABASE_URL_CASES.forEach((c, i) => {
  const real = results[i]!;
  let agrees: boolean;
  if ('fails' in c.backend) {
    const { stage, error } = c.backend.fails;
    // The script and the real docker are not run: for docker-run the oracle only counts bash's words.
    agrees = real.stage === stage && (stage === 'docker-run' || real.error === error || real.error?.endsWith(error.replace(/^\w+Error: /, '')) === true);
  } else {
    const s = c.backend.sends;
    const expected: Record<string, string> = {};
    if (s.host !== null) expected.host = s.host;
    if (s.database !== null) expected.dbname = s.database;
    if (s.user !== null) expected.user = s.user;
    if (s.password !== null) expected.password = s.password;
    if (real.opts?.port !== undefined || s.port !== 5432) expected.port = String(s.port);
    agrees = !real.stage && JSON.stringify(Object.entries(expected).sort()) === JSON.stringify(Object.entries(real.opts ?? {}).sort());
  }
  if (!agrees) {
    disagreements += 1;
    console.log(`DISAGREES: ${c.name}\n  table: ${JSON.stringify(c.backend)}\n  real:  ${JSON.stringify(real)}`);
  }
});
console.log(`${DATABASE_URL_CASES.length - disagreements} rows agree, ${disagreements} disagree`);
process.exit(disagreements ? 1 : 0);
