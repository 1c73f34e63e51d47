import nextVitals from 'eslint-config-next/core-web-vitals';
import nextTs from 'eslint-config-next/typescript';

// The layering DESIGN.md and docs/ARCHITECTURE.md describe, enforced where a rule can say it.
const awsSdkOnlyInLibAws = {
  group: ['@aws-sdk/*'],
  message: 'lib/aws is the only module that talks to AWS: add a reader or writer there and call it.',
};
const systemEntryOnlyForTheWatcher = {
  group: ['@/lib/operations/system', '**/operations/system'],
  message: "The scheduler's entry point: only the watcher starts operations as the system actor.",
};
const grantsOnlyInsideOperations = {
  group: ['@/lib/operations/grant'],
  importNames: ['issueGrant'],
  message: 'Only lib/operations issues an operation grant (beginOperation, takeOverOperation).',
};

const config = [
  ...nextVitals,
  ...nextTs,
  { ignores: ['.next/**', '.next-*/**', '.data/**', '.lab/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', 'next-env.d.ts'] },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['app/**', 'components/**', 'lib/**', 'proxy.ts', 'instrumentation.ts'],
    ignores: ['lib/aws/**', 'lib/operations/**', 'lib/watcher/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [awsSdkOnlyInLibAws, systemEntryOnlyForTheWatcher, grantsOnlyInsideOperations] }] },
  },
  {
    files: ['lib/aws/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [systemEntryOnlyForTheWatcher, grantsOnlyInsideOperations] }] },
  },
  {
    files: ['lib/operations/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [awsSdkOnlyInLibAws] }] },
  },
  {
    files: ['lib/watcher/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [awsSdkOnlyInLibAws, grantsOnlyInsideOperations] }] },
  },
];

export default config;
