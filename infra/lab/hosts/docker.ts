import type { Container } from './container';
import { executeTemplate, goMap, parseTemplate, TemplateExecError, TemplateParseError, TemplateUnsupportedError } from './go-template';

// `docker ps|inspect|logs|exec|restart|stop|start linkbox-backend` on one host, printed the way
// docker prints them — including what makes them dangerous: `docker inspect` prints `Config.Env`,
// and `docker exec linkbox-backend env` the environment, both with the DATABASE_URL that
// start_application.sh passed with `-e`, password and all. A lab that hid it would let a console
// that runs such a command through Run Command (whose output SSM keeps) pass its tests.

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
    case 'exec':
      return exec(rest, ctx.container);
    case 'restart':
    case 'stop':
    case 'start':
      return lifecycle(sub, rest, ctx);
    default:
      return fail(`docker: '${sub ?? ''}' is not a docker command the lab supports.`, 1);
  }
}

/** What `docker inspect` prints for the container, in Docker's field order. */
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
    HostConfig: { PortBindings: goMap({ '80/tcp': [{ HostIp: '', HostPort: '80' }] }), RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 } },
    Config: {
      Hostname: c.id.slice(0, 12),
      Domainname: '',
      User: '',
      ExposedPorts: goMap({ '80/tcp': {} }),
      Tty: false,
      Env: container.environment(),
      Cmd: ['uvicorn', 'app.main:app', '--host', '0.0.0.0', '--port', '80'],
      Image: c.image,
      WorkingDir: '/app',
      Entrypoint: null,
      Labels: goMap({}),
    },
    NetworkSettings: { Ports: goMap({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '80' }] }) },
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
    // docker's formatter drops the "table" prefix and turns \t and \n into tabs and newlines.
    const template = format.replace(/^table\s+/, '').replaceAll('\\t', '\t').replaceAll('\\n', '\n');
    if (!listed) return ok('');
    return formatWith(template, [row], { missingField: (name) => `can't evaluate field ${name} in type *formatter.ContainerContext` });
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
  if (format === 'json') return { stdout: `${JSON.stringify(found)}\n`, stderr, exitCode };
  if (format) {
    const rendered = formatWith(format, found);
    return { stdout: rendered.stdout, stderr: stderr + rendered.stderr, exitCode: Math.max(exitCode, rendered.exitCode) };
  }
  return { stdout: `${JSON.stringify(found, null, 4)}\n`, stderr, exitCode };
}

/**
 * One line per object, as docker's TemplateInspector writes them. A template that does not parse
 * exits 64; one that fails on an object exits 1 and, with nothing printed, docker still writes an
 * empty line to stdout.
 */
function formatWith(format: string, objects: Record<string, unknown>[], options: { missingField?: (name: string) => string } = {}): Output {
  let template;
  try {
    template = parseTemplate(format);
  } catch (err) {
    if (err instanceof TemplateParseError) return fail(`template parsing error: ${err.message}`, 64);
    if (err instanceof TemplateUnsupportedError) return fail(err.message, 1);
    throw err;
  }
  let stdout = '';
  let stderr = '';
  for (const object of objects) {
    try {
      stdout += `${executeTemplate(template, object, options)}\n`;
    } catch (err) {
      if (err instanceof TemplateExecError || err instanceof TemplateParseError) stderr += `template parsing error: ${err.message}\n`;
      else throw err;
    }
  }
  if (!stderr) return ok(stdout || '\n');
  return { stdout: stdout || '\n', stderr, exitCode: 1 };
}

/** `docker exec [-it] [-e K=V] [-u U] [-w DIR] CONTAINER COMMAND...`, read once for planning and once for running. */
export function parseExec(args: string[]): { ok: true; name: string; command: string[]; env: string[] } | { ok: false; output: Output } {
  const env: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) break;
    if (a === '-e' || a === '--env') env.push(args[++i] ?? '');
    else if (a.startsWith('--env=')) env.push(a.slice('--env='.length));
    else if (a === '-u' || a === '--user' || a === '-w' || a === '--workdir') i++;
    else if (/^-[it]+$/.test(a) || a === '--interactive' || a === '--tty' || a.startsWith('--user=') || a.startsWith('--workdir=')) continue;
    else return { ok: false, output: fail(`unknown flag: ${a}\nSee 'docker exec --help'.`, 125) };
  }
  const name = args[i];
  const command = args.slice(i + 1);
  if (!name || command.length === 0) return { ok: false, output: fail(`"docker exec" requires at least 2 arguments.\nSee 'docker exec --help'.`, 1) };
  return { ok: true, name, command, env };
}

/** The programs the lab can run inside the container: the environment readers of the seed's own check. */
export const EXEC_PROGRAMS = new Set(['env', 'printenv']);

function exec(args: string[], container: Container): Output {
  const parsed = parseExec(args);
  if (!parsed.ok) return parsed.output;
  const c = container.inspect();
  if (!c.exists || (parsed.name !== NAME && !(parsed.name.length >= 4 && c.id.startsWith(parsed.name)))) {
    return fail(`Error response from daemon: No such container: ${parsed.name}`, 1);
  }
  if (c.status !== 'running') return fail(`Error response from daemon: container ${c.id} is not running`, 1);
  const [program, ...rest] = parsed.command as [string, ...string[]];
  const environment = execEnvironment(container, parsed.env);
  if (program === 'env' && rest.length === 0) return ok(environment.map((line) => `${line}\n`).join(''));
  if (program === 'printenv') {
    if (rest.length === 0) return ok(environment.map((line) => `${line}\n`).join(''));
    let stdout = '';
    let missing = false;
    for (const name of rest) {
      const line = environment.find((l) => l.startsWith(`${name}=`));
      if (line === undefined) missing = true;
      else stdout += `${line.slice(name.length + 1)}\n`;
    }
    return { stdout, stderr: '', exitCode: missing ? 1 : 0 };
  }
  return fail(`lab: command not supported by the lab: docker exec ${parsed.name} ${parsed.command.join(' ')}`, 127);
}

/**
 * An exec'd process's environment as docker builds it: PATH and HOSTNAME first, then the
 * container's Config.Env (its PATH replacing the default in place), `-e` values, and HOME.
 */
function execEnvironment(container: Container, extra: string[]): string[] {
  const env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `HOSTNAME=${container.inspect().id.slice(0, 12)}`];
  const put = (entry: string) => {
    const key = entry.split('=', 1)[0];
    const at = env.findIndex((e) => e.split('=', 1)[0] === key);
    if (at >= 0) env[at] = entry;
    else env.push(entry);
  };
  for (const entry of container.environment()) put(entry);
  for (const entry of extra) put(entry);
  if (!env.some((e) => e.startsWith('HOME='))) env.push('HOME=/root');
  return env;
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
