// @ts-check
/**
 * Lint configuration (flat config). TypeScript is linted type-aware against tsconfig.test.json,
 * which covers packages/*\/src (with their __tests__), test/ and examples/ and maps `@sluice/*` to
 * sources. The CommonJS `// @ts-check` JavaScript files (examples, test jobs, jest and deploy
 * scripts) get the plain JS recommended rules with node globals. Formatting is prettier's job:
 * eslint-config-prettier switches off the stylistic rules that would fight it.
 */
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '.cache/**',
      'coverage/**',
      'test-artifacts/**',
      'deploy/local/**',
      // Generated from proto/ by `npm run gen:proto`.
      'packages/common/src/grpc/generated/**',
    ],
  },

  // Rules for every file, JS and TS alike.
  {
    files: ['**/*.{ts,js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@sluice/*/src', '@sluice/*/src/*', '@sluice/*/dist', '@sluice/*/dist/*'],
              message: "Import another package through its entry point ('@sluice/<name>'), not its src/ or dist/ files.",
            },
          ],
        },
      ],
    },
  },

  // TypeScript: type-aware.
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.test.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: true },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },

  // Product code: exported functions state their types.
  {
    files: ['packages/*/src/**/*.ts'],
    ignores: ['**/__tests__/**'],
    rules: {
      '@typescript-eslint/explicit-module-boundary-types': 'error',
    },
  },

  // CommonJS JavaScript with `// @ts-check`: JS rules only, no type information.
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { ...globals.node },
    },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module' },
  },
  // k6 scripts: ES modules for k6's runtime (its globals, not node's).
  {
    files: ['deploy/k6/**/*.js'],
    languageOptions: { sourceType: 'module', globals: { __ENV: 'readonly', __VU: 'readonly', __ITER: 'readonly', open: 'readonly' } },
  },

  prettier
);
