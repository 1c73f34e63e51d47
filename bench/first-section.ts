// Benchmark, first section: the environment page in Chromium, cold (`?fresh=1`, past every cache),
// timed inside the page from navigation start: when the first panel has its answer, and when the
// whole status has (every panel answered, the overall badge shown). The page streams each panel as
// its own checks answer (React Suspense), so the first should come in about one AWS round trip and
// the whole after the containers' Run Command: target first ÷ full ≤ 0.5.
import { chromium } from '@playwright/test';
import { startConsole } from './support/console';
import { intFromEnv, LATENCY_MS, NO_FRESH_LIMITS, startBenchLab } from './support/lab';
import { keyResult, median, ms, ratio, table, title } from './support/report';
import { onShutdown, runBenchmark } from './support/shutdown';

const RUNS = intFromEnv('BENCH_FIRST_SECTION_RUNS', 5, 1, 50);
const PAGE = '/environments/production?fresh=1';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Runs in the page before its own scripts: records, from navigation start, when panels answer. A
 * string, not a function: tsx wraps functions in helpers the page does not have.
 */
const RECORD_PANELS = `
  const marks = { firstByte: 0, firstPanel: 0, panels: 0, complete: 0, sections: 0 };
  window.__panels = marks;
  new MutationObserver(() => {
    const all = document.querySelectorAll('[data-section]');
    const answered = document.querySelectorAll('[data-section][data-answered="true"]');
    if (!marks.firstByte) marks.firstByte = performance.getEntriesByType('navigation')[0]?.responseStart ?? 0;
    if (answered.length > 0 && !marks.firstPanel) marks.firstPanel = performance.now();
    if (all.length > 0 && answered.length === all.length && !marks.panels) marks.panels = performance.now();
    if (marks.panels && document.querySelector('[data-testid="status-complete"]') && !marks.complete) {
      marks.complete = performance.now();
      marks.sections = all.length;
    }
  }).observe(document, { childList: true, subtree: true, attributes: true });
`;

runBenchmark(async () => {
  title('First section in the browser', [
    `AWS latency ${LATENCY_MS} ms a call. Chromium opens ${PAGE} ${RUNS} times (plus one not counted); times are from navigation start, measured in the page.`,
  ]);
  const lab = await startBenchLab('first-section', { consoleConfig: NO_FRESH_LIMITS });
  await lab.setLatency(LATENCY_MS);
  const app = await startConsole(lab);
  const cookie = await app.signIn('viewer');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  onShutdown('Chromium', () => browser.close());
  const context = await browser.newContext();
  await context.addCookies(
    cookie.split('; ').map((pair) => {
      const eq = pair.indexOf('=');
      return { name: pair.slice(0, eq), value: pair.slice(eq + 1), url: app.url };
    }),
  );
  await context.addInitScript(RECORD_PANELS);
  const page = await context.newPage();

  const runs: Array<{ firstByte: number; firstPanel: number; complete: number; sections: number }> = [];
  for (let i = 0; i <= RUNS; i++) {
    await page.goto(`${app.url}${PAGE}`, { waitUntil: 'commit' });
    await page.waitForFunction(() => (window as unknown as { __panels?: { complete: number } }).__panels?.complete, undefined, { timeout: 30_000 });
    const marks = await page.evaluate(() => (window as unknown as { __panels: { firstByte: number; firstPanel: number; complete: number; sections: number } }).__panels);
    // The first load also pays for the server's first render of the route: not counted.
    if (i > 0) runs.push(marks);
  }
  await browser.close();
  await app.stop();

  table(
    ['page load', 'first byte (the page shell)', 'first panel answered', 'whole status shown', 'first ÷ whole', 'panels'],
    runs.map((r, i) => [`cold #${i + 1}`, ms(r.firstByte), ms(r.firstPanel), ms(r.complete), ratio(r.firstPanel / r.complete), r.sections]),
  );
  const first = median(runs.map((r) => r.firstPanel));
  const whole = median(runs.map((r) => r.complete));
  const shell = median(runs.map((r) => r.firstByte));
  keyResult(
    `first panel ${ms(first)}, whole status ${ms(whole)} (medians of ${RUNS}): first ÷ whole ${ratio(first / whole)} (target ≤ 0.5); ` +
      `after the shell's first byte (${ms(shell)}): ${ratio((first - shell) / (whole - shell))}`,
  );
});
