import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by `steward serve` at /console (src/http/console.ts), next to the API it calls.
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  logLevel: 'warn',
});
