// Flat config shared by every package; packages lint `src` and `test` from their own folder.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', '**/coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      'no-fallthrough': 'error',
    },
  },
  {
    // Plain-JS tools run on Node: its globals exist there.
    files: ['tools/**/*.{js,mjs}'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', performance: 'readonly', Buffer: 'readonly' } },
  },
  {
    files: ['packages/**/src/**/*.ts'],
    rules: {
      // Packages below apps/ never print or read process globals (DESIGN.md).
      'no-console': 'error',
    },
  },
);
