// One linter: typescript-eslint's type-aware rules plus the layering rule from DESIGN.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Lower folders never import higher ones (DESIGN.md "Layout").
const layers = {
  base: [],
  model: ['base'],
  db: ['base', 'model'],
  rpc: ['base', 'model'],
  drivers: ['base', 'model'],
  cluster: ['base', 'model', 'db', 'rpc'],
  impl: ['base', 'model', 'db', 'rpc', 'cluster', 'drivers'],
  api: ['base', 'model', 'db', 'rpc', 'cluster', 'impl', 'drivers'],
  cli: ['base', 'model', 'rpc'],
  web: ['base', 'model'],
};
const all = Object.keys(layers).concat(['testing', 'bin']);
const layerRules = Object.entries(layers).map(([layer, allowed]) => ({
  files: [`src/${layer}/**/*.ts`, `src/${layer}/**/*.tsx`],
  ignores: ['**/*.test.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: all
          .filter((l) => l !== layer && !allowed.includes(l))
          .map((l) => ({
            group: [`**/${l}/*`, `../${l}/*`],
            message: `src/${layer} may not import src/${l}`,
          })),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'demo-pool/**', 'test-output/**', 'scripts/**', '*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      eqeqeq: 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    // node:test's describe/it return promises that the runner itself awaits.
    files: ['**/*.test.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  ...layerRules,
);
