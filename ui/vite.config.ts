// The bundle goes into the Python package, where `lineal server` and `lineal ui` serve it from
// (src/lineal/server/ui_bundle.py); it is built by `make ui` and never committed.
import { defineConfig, Plugin } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

/** Each emitted asset of 1 kB or more also as .gz and .br beside it: `lineal server` answers a
 * browser that accepts them with these bytes (src/lineal/server/ui_bundle.py), compressed once
 * here at their best level rather than on every request. */
function precompress(): Plugin {
  return {
    name: "lineal-precompress",
    apply: "build",
    generateBundle(_options, bundle) {
      for (const item of Object.values(bundle)) {
        if (!item.fileName.startsWith("assets/") || !/\.(js|css|svg|json)$/.test(item.fileName)) continue;
        const source = item.type === "chunk" ? item.code : item.source;
        const bytes = typeof source === "string" ? Buffer.from(source) : Buffer.from(source);
        if (bytes.length < 1024) continue;
        this.emitFile({ type: "asset", fileName: `${item.fileName}.gz`, source: gzipSync(bytes, { level: 9 }) });
        this.emitFile({
          type: "asset", fileName: `${item.fileName}.br`,
          source: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        });
      }
    },
  };
}

export default defineConfig({
  plugins: [react(), precompress()],
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
