import { defineConfig } from '@playwright/test';

// One lab and one console for the whole e2e run, started by scripts/start.ts on ports of their own
// (override with E2E_PORT / E2E_LAB_PORT / E2E_LOCAL_BACKEND_PORT so two runs never collide).
// Specs run one at a time and share that lab: a spec that breaks something restores it.
const port = Number(process.env.E2E_PORT ?? 3210);
const labPort = Number(process.env.E2E_LAB_PORT ?? 4610);
const localBackendPort = Number(process.env.E2E_LOCAL_BACKEND_PORT ?? 8110);
const dataDir = process.env.E2E_LAB_DATA_DIR ?? '.lab/e2e';
// Playwright empties its output folder at start, so concurrent runs need folders of their own.
const outputDir = process.env.E2E_OUTPUT_DIR ?? 'test-results/e2e';

// Workers inherit these: the specs read where the lab is and the passwords of the lab identity
// provider's accounts (the specs type them into its login form; the console never sees them).
process.env.E2E_BASE_URL = `http://127.0.0.1:${port}`;
process.env.E2E_LAB_URL = `http://127.0.0.1:${labPort}`;
process.env.E2E_LAB_DATA_DIR = dataDir;
process.env.E2E_CONSOLE_LOG = `${dataDir}/console.log`;
process.env.LAB_VIEWER_PASSWORD ??= 'viewer-e2e-password';
process.env.LAB_OPERATOR_PASSWORD ??= 'operator-e2e-password';
process.env.LAB_ADMIN_PASSWORD ??= 'admin-e2e-password';
process.env.LAB_UNVERIFIED_PASSWORD ??= 'unverified-e2e-password';
process.env.OPS_API_TOKENS ??= 'e2e:e2e-api-token-0123456789';

export default defineConfig({
  testDir: 'e2e',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  outputDir,
  reporter: [['list'], ['json', { outputFile: 'test-results/summary/e2e.json' }]],
  use: {
    baseURL: process.env.E2E_BASE_URL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    command: 'npx tsx scripts/start.ts',
    url: `${process.env.E2E_BASE_URL}/signin`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 15_000 },
    env: {
      PORT: String(port),
      LAB_GATEWAY_PORT: String(labPort),
      LAB_LOCAL_BACKEND_PORT: String(localBackendPort),
      LAB_DATA_DIR: dataDir,
      LAB_VIEWER_PASSWORD: process.env.LAB_VIEWER_PASSWORD,
      LAB_OPERATOR_PASSWORD: process.env.LAB_OPERATOR_PASSWORD,
      LAB_ADMIN_PASSWORD: process.env.LAB_ADMIN_PASSWORD,
      LAB_UNVERIFIED_PASSWORD: process.env.LAB_UNVERIFIED_PASSWORD,
      OPS_API_TOKENS: process.env.OPS_API_TOKENS,
      // The watcher looks every 5 s, so a spec sees its fault in the history without waiting a minute.
      WATCH_INTERVAL_SECONDS: '5',
    },
  },
});
