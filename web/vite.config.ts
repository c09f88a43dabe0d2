import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The console is served by Wharf under a strict CSP (script-src 'self'; style-src 'self'), so
// the build must emit no inline script or style: no modulepreload polyfill, CSS as a file.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    assetsInlineLimit: 0,
    target: 'es2022',
    sourcemap: false,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:5000', '/v2': 'http://127.0.0.1:5000' } },
});
