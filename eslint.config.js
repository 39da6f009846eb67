// Lint config: typescript-eslint's type-checked rules over src, test, bench and
// examples, plus the guard rails: the layer rules (no-restricted-imports per
// directory; test/layers.test.ts also checks dynamic imports and cycles), no
// console outside the CLI, and size limits for files and functions.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Engine and stage modules: what the pure layers must not import. */
const STAGE_MODULES = ['**/pipeline/**', '**/sources/**', '**/transforms/**', '**/sinks/**', '**/cli/**', '**/compose/**', '**/scan.js', '**/components.js'];

/** Sinks (and the code they share) take records as inputs: no source or transform module. */
const SINK_INPUTS = { group: ['**/sources/**', '**/transforms/**'], message: 'a sink takes its records as inputs; it imports no source or transform' };

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'src/generated/**', 'out/**', 'runs/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false, project: null },
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
  {
    files: ['src/physics/**/*.ts', 'src/model/**/*.ts', 'src/io/**/*.ts', 'src/records/**/*.ts', 'src/core/**/*.ts', 'src/util/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: STAGE_MODULES,
              message: 'physics, model, io, records, core and util are pure layers: they import no pipeline, source, transform, sink or CLI module',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/sinks/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [SINK_INPUTS, { regex: '^\\./(?!shared/)', message: 'a sink imports no other sink: code two sinks need goes in src/sinks/shared/' }] },
      ],
    },
  },
  {
    files: ['src/sinks/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [SINK_INPUTS, { regex: '^\\.\\./[^/]+$', message: 'src/sinks/shared serves the sinks and imports none of them' }] },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 300, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
      complexity: ['error', 20],
    },
  },
);
