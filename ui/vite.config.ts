// The bundle goes into the Python package, where `lineal server` and `lineal ui` serve it from
// (src/lineal/server/ui_bundle.py); it is built by `make ui` and never committed.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("../src/lineal/server/ui", import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2500,
  },
  worker: { format: "es" },
  server: {
    // `npm run dev` against a local `lineal server` on :8080.
    proxy: { "/api": "http://127.0.0.1:8080", "/auth": "http://127.0.0.1:8080" },
  },
});
