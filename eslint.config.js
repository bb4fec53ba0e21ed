// ESLint: typescript-eslint's recommended rules over every TypeScript file the project owns. Zero warnings is the bar
// (npm test runs it with --max-warnings 0).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // AssemblyScript (assembly/) is checked by its own compiler: its decorators and types are not TypeScript's.
    ignores: ['node_modules/', 'dist/', 'build/', 'out/', 'data/', 'assembly/', 'test-artifacts/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node, ...globals.browser },
    },
    rules: {
      // `_`-prefixed names are deliberately unused (destructuring a field away, an ignored callback argument).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
);
