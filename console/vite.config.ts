/**
 * The console's build: `vite build --config console/vite.config.ts` (npm run build:console, run by
 * `npm run build` and so by `npm install`) → dist/public/console/, served by fleetjobs at /console/.
 * Everything is bundled: no CDN, no web font, so the console works offline.
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  root: here('./'),
  base: '/console/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../dist/public/console/'),
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    // One small entry: no modulepreload polyfill (an inline script the CSP would refuse).
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    sourcemap: false,
  },
})
