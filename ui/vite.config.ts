// The bundle goes into the Python package, where `lineal server` and `lineal ui` serve it from
// (src/lineal/server/ui_bundle.py); it is built by `make ui` and never committed.
import { defineConfig, Plugin } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Each emitted asset of 1 kB or more also as .gz and .br beside it: `lineal server` answers a
 * browser that accepts them with these bytes (src/lineal/server/ui_bundle.py), compressed once
 * here at their best level rather than on every request. */
function precompress(): Plugin {
  return {
    name: "lineal-precompress",
    apply: "build",
    // Once the files are written: the code as served (generateBundle would still see
    // placeholders that Vite's own plugins fill in later).
    writeBundle(options, bundle) {
      const dir = options.dir!;
      for (const name of Object.keys(bundle)) {
        if (!name.startsWith("assets/") || !/\.(js|css|svg|json)$/.test(name)) continue;
        const bytes = readFileSync(join(dir, name));
        if (bytes.length < 1024) continue;
        writeFileSync(join(dir, `${name}.gz`), gzipSync(bytes, { level: 9 }));
        writeFileSync(join(dir, `${name}.br`),
          brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
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
