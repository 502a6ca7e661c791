// @ts-check
import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

/** Imports point inward only. [ARCHITECTURE: layers] */
const boundary = (folder, forbidden) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: forbidden.map((f) => ({
          // `server` is also the composition root's files (src/server*.ts), imported as `../server.js`.
          group: [
            `**/${f}/*`,
            `**/${f}`,
            ...(f === 'server'
              ? ['../server.js', '../../server.js', '../server-*.js', '../../server-*.js']
              : []),
          ],
          message: `src/${folder} may not import src/${f} (see ARCHITECTURE: layers)`,
        })),
      },
    ],
  },
})

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'scratch/', 'models/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
              package: 'node:test',
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: globals.node },
  },
  boundary('domain', ['ports', 'app', 'storage', 'http', 'mqtt', 'schedulers', 'cli', 'server', 'pki']),
  boundary('ports', ['app', 'storage', 'http', 'mqtt', 'schedulers', 'cli', 'server', 'pki']),
  boundary('app', ['storage', 'http', 'mqtt', 'schedulers', 'cli', 'server', 'pki']),
  boundary('storage', ['app', 'http', 'mqtt', 'schedulers', 'cli', 'server', 'pki']),
  boundary('http', ['storage', 'mqtt', 'schedulers', 'cli', 'server', 'pki']),
  boundary('aws-model', ['ports', 'app', 'storage', 'http', 'mqtt', 'schedulers', 'cli', 'server']),
  boundary('mqtt', ['storage', 'http', 'schedulers', 'cli', 'server', 'pki']),
  boundary('schedulers', ['storage', 'http', 'mqtt', 'cli', 'server', 'pki']),
  // The web console's server side: the use cases and the HTTP API's operation table, never the store's adapters.
  boundary('console', ['storage', 'schedulers', 'cli', 'server', 'pki']),
  // X.509 and the local CA: an adapter behind ports/pki.ts, wired by server.ts.
  boundary('pki', ['app', 'storage', 'http', 'mqtt', 'schedulers', 'cli', 'server']),
  boundary('simulator', ['storage', 'http', 'app', 'schedulers', 'server', 'cli', 'ports']),
  // /metrics and the probes read the store through its port only; the HTTP layer only as a type.
  boundary('observability', ['app', 'storage', 'mqtt', 'schedulers', 'cli', 'server', 'pki', 'console']),
  // The console's page is browser code (console/tsconfig.json: DOM, JSX for Preact).
  { files: ['console/src/**/*.{ts,tsx}'], languageOptions: { globals: globals.browser } },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'src/**/*.test.ts', 'console/src/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
)
