// Bundles the extension (dist/extension.js, what VS Code loads) and the tests
// (dist/test/*.test.js, run by `node --test`). `vscode` is provided by the editor, or by
// test/fakeVscode.ts in the tests, so it is never bundled.
import { readdirSync } from 'node:fs';
import * as esbuild from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning' };

// `npm run package` builds with --production: a minified bundle for the .vsix.
const production = process.argv.includes('--production');
await esbuild.build({
  ...common,
  entryPoints: ['src/extension.ts'],
  outfile: 'dist/extension.js',
  external: ['vscode'],
  minify: production,
  sourcemap: !production,
});

const tests = readdirSync('test').filter((name) => name.endsWith('.test.ts'));
await esbuild.build({
  ...common,
  entryPoints: tests.map((name) => `test/${name}`),
  outdir: 'dist/test',
  // The extension test loads the real bundle, not a second copy of the sources.
  external: ['vscode', '../extension.js'],
});
