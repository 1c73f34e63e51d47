import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ContainerState } from '../contract';
import type { BackendStart, FromBackend } from './backend-messages';

// The `linkbox-backend` container on one host, with docker's lifecycle: `run` creates a new
// container (fresh id, RestartCount 0, SSM read afresh), `start`/`restart` reuse the container and
// therefore the DATABASE_URL it was created with — exactly why a `docker restart` does not pick up
// a rotated password and start_application.sh does. RestartCount counts restart-policy restarts
// (recovery after a crash), as docker's does; a manual `docker restart` does not change it.

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BACKEND_SCRIPT = fileURLToPath(new URL('./backend-process.ts', import.meta.url));
const TSX_LOADER = pathToFileURL(`${REPO_ROOT}node_modules/tsx/dist/loader.mjs`).href;

/** How long a backend may take to read SSM and listen; tsx start-up on a busy two-core machine is slow. */
const START_TIMEOUT_MS = 45_000;
const STOP_GRACE_MS = 3000;
const LOG_LINES = 300;

export const DEFAULT_IMAGE = 'linkbox-backend:latest';

/**
 * The image's own ENV (python:3.12-slim and the LinkBox Dockerfile). Docker puts the `docker run -e`
 * variables first and appends the image's, so DATABASE_URL leads `Config.Env`.
 */
const IMAGE_ENV = [
  'PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'LANG=C.UTF-8',
  'GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305',
  'PYTHON_VERSION=3.12.8',
  'PYTHONDONTWRITEBYTECODE=1',
  'PYTHONUNBUFFERED=1',
];

export interface ContainerOptions {
  /** The instance id, or "local" for the local backend. */
  hostId: string;
  port: number;
  /** Everything the backend needs to start except a URL. */
  startConfig: Omit<BackendStart, 'type' | 'databaseUrl' | 'unhealthy' | 'port' | 'instanceId'>;
  /** For the local backend: the DATABASE_URL comes from .env or the default, never from SSM. */
  fixedDatabaseUrl?: () => string;
  log: (line: string) => void;
}

export type StartOutcome = { ok: true } | { ok: false; error: string };

export class Container {
  readonly port: number;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** The container's DATABASE_URL, as docker keeps it between stop and start. Never logged. */
  private databaseUrl: string | undefined;
  private unhealthy = false;
  private logs: string[] = [];
  private killedByFault = false;
  private runningAtPowerOff = false;
  private created = false;
  private id = newContainerId();
  private createdAt = new Date().toISOString();
  private readonly state: ContainerState = {
    name: 'linkbox-backend',
    status: 'created',
    startedAt: null,
    finishedAt: null,
    restartCount: 0,
    image: DEFAULT_IMAGE,
    exitCode: null,
    error: null,
  };

  constructor(private readonly options: ContainerOptions) {
    this.port = options.port;
  }

  inspect(): ContainerState & { id: string; createdAt: string; exists: boolean } {
    return { ...this.state, id: this.id, createdAt: this.createdAt, exists: this.created };
  }

  /**
   * `Config.Env` as docker keeps it: what start_application.sh passed with `-e` (DATABASE_URL with the
   * real password, exactly as Docker prints it), then the image's variables.
   */
  environment(): string[] {
    return [...(this.databaseUrl !== undefined ? [`DATABASE_URL=${this.databaseUrl}`] : []), ...IMAGE_ENV];
  }

  recentLogs(tail?: number): string[] {
    return tail === undefined ? [...this.logs] : this.logs.slice(-tail);
  }

  isRunning(): boolean {
    return this.state.status === 'running';
  }

  /** `docker run` from start_application.sh: a new container that reads SSM afresh. */
  async run(image: string = this.state.image): Promise<StartOutcome> {
    await this.kill('SIGTERM');
    this.id = newContainerId();
    this.createdAt = new Date().toISOString();
    this.created = true;
    this.state.image = image;
    this.state.restartCount = 0;
    this.state.startedAt = null;
    this.state.finishedAt = null;
    this.state.exitCode = null;
    this.databaseUrl = this.options.fixedDatabaseUrl?.();
    this.logs = [];
    return this.launch();
  }

  /** `docker start`: the same container, the same environment. */
  async start(): Promise<StartOutcome> {
    if (!this.created) return { ok: false, error: 'Error response from daemon: No such container: linkbox-backend' };
    if (this.isRunning()) return { ok: true };
    return this.launch();
  }

  /** `docker stop`: SIGTERM, then SIGKILL after the grace period. */
  async stop(): Promise<void> {
    this.killedByFault = false;
    await this.kill('SIGTERM');
  }

  async restart(): Promise<StartOutcome> {
    if (!this.created) return { ok: false, error: 'Error response from daemon: No such container: linkbox-backend' };
    await this.stop();
    return this.launch();
  }

  /** The crashed-container fault: the process is killed outright (exit code 137, as after an OOM kill). */
  async crash(): Promise<void> {
    if (!this.isRunning()) return;
    this.killedByFault = true;
    await this.kill('SIGKILL');
  }

  /** The restart policy bringing a container back once its crash fault is cleared. */
  async recoverFromCrash(): Promise<void> {
    if (!this.killedByFault || this.isRunning()) return;
    this.killedByFault = false;
    this.state.restartCount += 1;
    await this.launch();
  }

  /** The EC2 instance stopped: docker goes down with it, and remembers whether to bring this back. */
  async powerOff(): Promise<void> {
    this.runningAtPowerOff = this.isRunning();
    await this.kill('SIGTERM');
  }

  /** The EC2 instance started again: the restart policy starts what was running at shutdown. */
  async powerOn(): Promise<void> {
    if (!this.runningAtPowerOff || this.isRunning()) return;
    this.runningAtPowerOff = false;
    await this.launch();
  }

  setUnhealthy(unhealthy: boolean): void {
    this.unhealthy = unhealthy;
    if (this.child?.connected) this.child.send({ type: 'fault', unhealthy });
  }

  /** Ends the process for good (the lab is stopping). */
  async shutdown(): Promise<void> {
    await this.kill('SIGTERM');
  }

  private launch(): Promise<StartOutcome> {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, BACKEND_SCRIPT], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', NODE_NO_WARNINGS: '1' },
    });
    this.child = child;
    this.state.status = 'running';
    this.state.startedAt = new Date().toISOString();
    this.state.finishedAt = null;
    this.state.exitCode = null;
    this.state.error = null;
    this.capture(child);

    let settle: (outcome: StartOutcome) => void = () => undefined;
    const outcome = new Promise<StartOutcome>((resolve) => (settle = resolve));
    const timer = setTimeout(() => {
      this.state.error = `the backend did not listen within ${START_TIMEOUT_MS / 1000} s`;
      child.kill('SIGKILL');
    }, START_TIMEOUT_MS);

    child.on('message', (message: FromBackend) => {
      if (message.type === 'resolved') this.databaseUrl = message.databaseUrl;
      else if (message.type === 'listening') settle({ ok: true });
      // The process exits right after saying why; the start is answered once it has, so whoever
      // reads the container's state after a failed start_application.sh sees it exited, not running.
      else if (message.type === 'failed') this.state.error = message.error;
    });
    this.exited = new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        if (this.child === child) this.child = undefined;
        this.state.status = 'exited';
        this.state.finishedAt = new Date().toISOString();
        this.state.exitCode = code ?? (signal ? 128 + signalNumber(signal) : 1);
        settle({ ok: false, error: this.state.error ?? `the backend exited with code ${this.state.exitCode}` });
        resolve();
      });
    });
    child.on('error', (err) => {
      this.state.error = `cannot start the backend process: ${err.message}`;
    });

    const message: BackendStart = {
      type: 'start',
      instanceId: this.options.hostId,
      port: this.port,
      unhealthy: this.unhealthy,
      databaseUrl: this.databaseUrl,
      ...this.options.startConfig,
    };
    child.send(message);
    return outcome.finally(() => clearTimeout(timer)).then((result) => {
      if (!result.ok) this.options.log(`[${this.options.hostId}] linkbox-backend did not start: ${result.error}`);
      return result;
    });
  }

  private capture(child: ChildProcess): void {
    const add = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        this.logs.push(line);
        if (this.logs.length > LOG_LINES) this.logs.shift();
      }
    };
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
  }

  private async kill(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const grace = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(grace);
  }
}

function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

function signalNumber(signal: NodeJS.Signals): number {
  return signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 1;
}
