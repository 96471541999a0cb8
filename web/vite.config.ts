/**
 * The dashboard's build: `npm run build:web` (= `vite build web`) writes web/dist, which the API
 * serves at `/`. `npx vite web` runs a dev server that forwards API calls to a local Herald.
 * Paths here are relative to web/ (Vite's root: the CLI argument, or `root` in the JS API).
 */
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  // Aliases starting with "/" resolve from the root (web/).
  resolve: {
    // The domain code imports twitter-text by name; see src/vendor/twitter-text.ts.
    alias: [
      { find: /^twitter-text$/, replacement: '/src/vendor/twitter-text.ts' },
      // twitter-text's ES5 build imports core-js 2 polyfills for ES2015 (RegExp, Array, Symbol …). The
      // browsers this build targets have all of it natively, and core-js only patches what is missing,
      // so they would be dead weight (~45 kB before minifying).
      { find: /^core-js\/modules\/.*/, replacement: '/src/vendor/empty.ts' },
    ],
  },
  // Preact through the automatic JSX runtime; Vite 8 transforms TS/JSX with Oxc, no plugin needed.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    // One small app: a single chunk, and a warning if it ever grows past 200 kB.
    chunkSizeWarningLimit: 200,
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:3000',
      '/health': 'http://127.0.0.1:3000',
    },
  },
});
