// Lint that guards the workflow sandbox: workflows may import only @temporalio/workflow,
// @temporalio/common, pure domain code and types; never Node built-ins, the ORM, HTTP clients or publishers.
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs', 'http', 'http2', 'https', 'net', 'os', 'path', 'perf_hooks', 'process', 'stream', 'timers', 'tls', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'web/dist/**', '.tools/**', '.herald/**', 'coverage/**', 'test-artifacts/**', '*.js', '*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'Read configuration through src/config.ts only.' }],
    },
  },
  {
    files: ['src/config.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // Tests read untyped JSON responses.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...nodeBuiltins, ...nodeBuiltins.map((name) => `node:${name}`)].map((name) => ({ name, message: 'Workflows are deterministic: no Node built-ins.' })),
        patterns: [
          { group: ['@mikro-orm/*', 'ioredis', 'redis', 'express', 'pino', 'twitter-text', 'undici', 'axios'], message: 'Workflows do no I/O: use an activity.' },
          { group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'], message: 'Workflows import only @temporalio/workflow and @temporalio/common.' },
          { group: ['**/src/platforms/*', '**/src/db/*', '**/src/api/*', '**/src/security/*', '**/src/temporal/worker', '**/src/temporal/dev-server', '**/src/temporal/connection', '**/src/config'], message: 'Workflows must not reach publishers, the database, the API or config.' },
          { group: ['../activities', '../activities/*'], allowTypeImports: true, message: 'Import activities with "import type" only.' },
        ],
      }],
    },
  },
);
