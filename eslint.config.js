import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import { defineConfig, includeIgnoreFile } from 'eslint/config';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The type-aware rules: a dropped or misused promise, an `await` on a non-promise, a rejection
 * or throw that is not an Error. Each needs the type checker; the rest of typescript-eslint's
 * type-checked set (no-unsafe-*, require-await, ...) is style here and left out.
 * @type {import('eslint').Linter.RulesRecord}
 */
const TYPE_CHECKED_RULES = {
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/no-misused-promises': 'error',
  '@typescript-eslint/await-thenable': 'error',
  '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'],
  '@typescript-eslint/only-throw-error': 'error',
  '@typescript-eslint/prefer-promise-reject-errors': 'error',
};

export default defineConfig(
  includeIgnoreFile(fileURLToPath(new URL('.gitignore', import.meta.url)), 'the .gitignore'),
  { ignores: ['bench/results/**'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['frontend/**/*.{ts,svelte}', 'frontend/**/*.svelte.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    name: 'tickdeck/type-checked',
    // Each file is in one of these programs; the .mjs tools through checkJs (tsconfig.scripts.json).
    files: [
      '**/*.ts',
      '**/*.svelte',
      'bench/**/*.mjs',
      'scripts/**/*.mjs',
      'eslint.config.js',
      'frontend/svelte.config.js',
    ],
    languageOptions: {
      parserOptions: {
        project: [
          './tsconfig.check.json',
          './tsconfig.scripts.json',
          './frontend/tsconfig.json',
          './frontend/tsconfig.node.json',
        ],
        tsconfigRootDir: root,
        extraFileExtensions: ['.svelte'],
      },
    },
    rules: TYPE_CHECKED_RULES,
  },
  // Layers (issue 12): the market knows nothing of ours but the protocol; the feed nothing of stream/.
  {
    name: 'tickdeck/market-imports-only-the-protocol',
    files: ['backend/src/market/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@tickdeck/protocol$)(@tickdeck/|\\.\\./)',
              message: 'backend/src/market/ imports nothing of ours but @tickdeck/protocol (and its own files).',
            },
          ],
        },
      ],
    },
  },
  {
    name: 'tickdeck/feed-does-not-import-stream',
    files: ['backend/src/feed/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+stream(/|$)',
              message:
                'backend/src/feed/ imports nothing from backend/src/stream/: stream/ pulls from the market, nothing below it knows it exists.',
            },
          ],
        },
      ],
    },
  },
);
