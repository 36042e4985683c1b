import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// Served by the folio binary under /admin/; during development `npm run dev` proxies the
// API to a folio server on 127.0.0.1:8080.
export default defineConfig({
  base: "/admin/",
  plugins: [react()],
  build: {
    outDir: process.env.FOLIO_UI_OUT_DIR ?? "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: {
      "/admin/api": "http://127.0.0.1:8080",
      "/media": "http://127.0.0.1:8080",
    },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
