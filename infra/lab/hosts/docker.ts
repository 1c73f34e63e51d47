import type { Container } from './container';

// `docker ps|inspect|logs|restart|stop|start linkbox-backend` on one host, printed the way docker
// prints them. `docker inspect` leaves out Config.Env: it would carry DATABASE_URL and its password.

export interface Output {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const NAME = 'linkbox-backend';
const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface DockerContext {
  container: Container;
  /** Runs after a start or restart: a container with a crash fault dies again at once. */
  afterStart: () => Promise<void>;
}

export async function docker(args: string[], ctx: DockerContext): Promise<Output> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'ps':
      return ps(rest, ctx.container);
    case 'inspect':
      return inspect(rest, ctx.container);
    case 'logs':
      return logs(rest, ctx.container);
    case 'restart':
    case 'stop':
    case 'start':
      return lifecycle(sub, rest, ctx);
    default:
      return fail(`docker: '${sub ?? ''}' is not a docker command the lab supports.`, 1);
  }
}

/** What `docker inspect` prints for the container, minus the environment. */
export function inspectObject(container: Container): Record<string, unknown> {
  const c = container.inspect();
  const running = c.status === 'running';
  return {
    Id: c.id,
    Created: c.createdAt,
    Path: 'uvicorn',
    Args: ['app.main:app', '--host', '0.0.0.0', '--port', '80'],
    State: {
      Status: c.status,
      Running: running,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: running ? 4000 + (parseInt(c.id.slice(0, 4), 16) % 5000) : 0,
      ExitCode: c.exitCode ?? 0,
      Error: c.error ?? '',
      StartedAt: c.startedAt ?? ZERO_TIME,
      FinishedAt: c.finishedAt ?? ZERO_TIME,
    },
    Image: `sha256:${c.id.split('').reverse().join('')}`,
    Name: `/${NAME}`,
    RestartCount: c.restartCount,
    HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '80' }] }, RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 } },
    Config: { Hostname: c.id.slice(0, 12), Image: c.image, ExposedPorts: { '80/tcp': {} }, Cmd: ['uvicorn', 'app.main:app', '--host', '0.0.0.0', '--port', '80'] },
    NetworkSettings: { Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '80' }] } },
  };
}

function ps(args: string[], container: Container): Output {
  let all = false;
  let quiet = false;
  let format: string | undefined;
  const filters: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-a' || a === '--all') all = true;
    else if (a === '-q' || a === '--quiet') quiet = true;
    else if (a === '-aq' || a === '-qa') all = quiet = true;
    else if (a === '--no-trunc') continue;
    else if (a === '-f' || a === '--filter') filters.push(args[++i] ?? '');
    else if (a.startsWith('--filter=')) filters.push(a.slice('--filter='.length));
    else if (a === '--format') format = args[++i];
    else if (a.startsWith('--format=')) format = a.slice('--format='.length);
    else return fail(`"docker ps" accepts no arguments.\nSee 'docker ps --help'.`, 1);
  }
  const c = container.inspect();
  let listed = c.exists && (all || c.status === 'running');
  for (const f of filters) {
    const [key, value = ''] = f.split('=', 2);
    if (key === 'name') listed &&= NAME.includes(value.replace(/^\^|\$$/g, ''));
    else if (key === 'status') listed &&= c.status === value;
    else if (key === 'ancestor') listed &&= c.image.startsWith(value);
    else return fail(`Error response from daemon: invalid filter '${key}'`, 1);
  }
  const row = {
    ID: c.id.slice(0, 12),
    Image: c.image,
    Command: '"uvicorn app.main:ap…"',
    CreatedAt: c.createdAt,
    RunningFor: `${ago(c.createdAt)} ago`,
    Status: statusText(container),
    State: c.status,
    Ports: c.status === 'running' ? '0.0.0.0:80->80/tcp' : '',
    Names: NAME,
  };
  if (quiet) return ok(listed ? `${row.ID}\n` : '');
  if (format) {
    const template = format.replace(/^table\s+/, '');
    if (!listed) return ok(format.startsWith('table') ? '' : '');
    return renderTemplate(template, row);
  }
  const header = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'];
  const rows = listed ? [[row.ID, row.Image, row.Command, row.RunningFor, row.Status, row.Ports, row.Names]] : [];
  return ok(table([header, ...rows]));
}

function inspect(args: string[], container: Container): Output {
  let format: string | undefined;
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-f' || a === '--format') format = args[++i];
    else if (a.startsWith('--format=')) format = a.slice('--format='.length);
    else if (a === '--type') i++;
    else if (a.startsWith('--type=') || a === '-s' || a === '--size') continue;
    else names.push(a);
  }
  if (names.length === 0) return fail('"docker inspect" requires at least 1 argument.', 1);
  const found: Record<string, unknown>[] = [];
  let stderr = '';
  for (const name of names) {
    const c = container.inspect();
    if ((name === NAME || (c.exists && c.id.startsWith(name) && name.length >= 4)) && c.exists) found.push(inspectObject(container));
    else stderr += `Error: No such object: ${name}\n`;
  }
  const exitCode = stderr ? 1 : 0;
  if (format) {
    if (/\.Config\.Env|\.Env\b/.test(format)) return refusedEnv();
    let stdout = '';
    for (const object of found) {
      const rendered = renderTemplate(format, object);
      if (rendered.exitCode !== 0) return rendered;
      stdout += rendered.stdout;
    }
    return { stdout, stderr, exitCode };
  }
  return { stdout: `${JSON.stringify(found, null, 4)}\n`, stderr, exitCode };
}

function logs(args: string[], container: Container): Output {
  let tail: number | undefined;
  let name: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--tail' || a === '-n') tail = Number(args[++i]);
    else if (a.startsWith('--tail=')) tail = Number(a.slice('--tail='.length));
    else if (a === '-t' || a === '--timestamps') continue;
    else if (a === '-f' || a === '--follow') return fail('lab: "docker logs -f" never ends; use --tail N instead', 1);
    else name = a;
  }
  if (name !== NAME || !container.inspect().exists) return fail(`Error response from daemon: No such container: ${name ?? ''}`, 1);
  const lines = container.recentLogs(tail !== undefined && Number.isFinite(tail) ? tail : undefined);
  return ok(lines.length ? `${lines.join('\n')}\n` : '');
}

async function lifecycle(action: 'restart' | 'stop' | 'start', args: string[], ctx: DockerContext): Promise<Output> {
  const names = args.filter((a, i) => !a.startsWith('-') && !['-t', '--time'].includes(args[i - 1] ?? ''));
  if (names.length === 0) return fail(`"docker ${action}" requires at least 1 argument.`, 1);
  let stdout = '';
  let stderr = '';
  for (const name of names) {
    if (name !== NAME || !ctx.container.inspect().exists) {
      stderr += `Error response from daemon: No such container: ${name}\n`;
      continue;
    }
    if (action === 'stop') {
      await ctx.container.stop();
    } else {
      const outcome = action === 'restart' ? await ctx.container.restart() : await ctx.container.start();
      await ctx.afterStart();
      // docker only reports that it started the process; an app that dies at once shows in `docker ps`.
      if (!outcome.ok && /No such container/.test(outcome.error)) {
        stderr += `${outcome.error}\n`;
        continue;
      }
    }
    stdout += `${name}\n`;
  }
  return { stdout, stderr, exitCode: stderr ? 1 : 0 };
}

export function refusedEnv(): Output {
  return fail(
    'lab: refused: this would print the container environment, whose DATABASE_URL holds the database password ' +
      '(and Run Command keeps command output). Check the login with the console\'s "db.login" check, or compare ' +
      '"aws ssm get-parameter --name <prefix>/db-username" with "aws rds describe-db-instances" instead.',
    1,
  );
}

/** The Go template subset operators use with --format: {{.A.B}}, {{json .A}}, {{lower .A}}, literal text. */
export function renderTemplate(template: string, data: Record<string, unknown>): Output {
  const unescaped = template.replace(/\\n/g, '\n').replace(/\\t/g, '\t');
  let failed: string | null = null;
  const out = unescaped.replace(/\{\{\s*(json\s+|lower\s+|upper\s+)?(\.[A-Za-z0-9_.]*)\s*\}\}/g, (_, fn: string | undefined, path: string) => {
    let value: unknown = data;
    for (const key of path.split('.').filter(Boolean)) {
      value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    }
    const f = fn?.trim();
    if (f === 'json') return JSON.stringify(value ?? null);
    if (value === undefined) {
      failed = `template: :1: executing "" at <${path}>: map has no entry for key "${path.split('.').pop()}"`;
      return '';
    }
    const text = typeof value === 'object' && value !== null ? goPrint(value) : String(value);
    return f === 'lower' ? text.toLowerCase() : f === 'upper' ? text.toUpperCase() : text;
  });
  if (failed) return fail(failed, 1);
  if (/\{\{/.test(out)) return fail('lab: this --format template is not supported by the lab (use {{.Field}}, {{json .Field}})', 1);
  return ok(`${out}\n`);
}

function goPrint(value: object): string {
  if (Array.isArray(value)) return `[${value.map((v) => (typeof v === 'object' && v ? goPrint(v) : String(v))).join(' ')}]`;
  return `map[${Object.entries(value)
    .map(([k, v]) => `${k}:${typeof v === 'object' && v ? goPrint(v) : String(v)}`)
    .join(' ')}]`;
}

function statusText(container: Container): string {
  const c = container.inspect();
  if (c.status === 'running') return `Up ${ago(c.startedAt ?? c.createdAt)}`;
  if (c.status === 'created') return 'Created';
  return `Exited (${c.exitCode ?? 0}) ${ago(c.finishedAt ?? c.createdAt)} ago`;
}

/** docker's HumanDuration wording. */
function ago(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${Math.floor(s)} seconds`;
  const m = s / 60;
  if (m < 2) return 'About a minute';
  if (m < 60) return `${Math.floor(m)} minutes`;
  const h = m / 60;
  if (h < 2) return 'About an hour';
  if (h < 48) return `${Math.floor(h)} hours`;
  return `${Math.floor(h / 24)} days`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

export function ok(stdout: string): Output {
  return { stdout, stderr: '', exitCode: 0 };
}

export function fail(stderr: string, exitCode: number): Output {
  return { stdout: '', stderr: stderr.endsWith('\n') ? stderr : `${stderr}\n`, exitCode };
}
