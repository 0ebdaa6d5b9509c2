// Bundles the two short-lived entry points, the berth CLI and berth-runc, each into one CommonJS
// file next to the modules it came from (so their paths relative to import.meta.url still hold).
// Node loads one CommonJS file in a fraction of the time its ES module loader takes for the
// same code spread over a dozen files (docs/ARCHITECTURE.md, "Start-up of the short-lived
// commands"). berthd, a long-lived process, runs from dist/ as tsc wrote it.
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
  // import.meta.url of every bundled module becomes the bundle's own URL.
  define: { "import.meta.url": "__berth_url" },
  banner: { js: 'const __berth_url = require("node:url").pathToFileURL(__filename).href;' },
};

await Promise.all([
  // The daemon (`berth daemon`, auto-start) and the registry-credential helpers stay outside:
  // loaded, as ES modules, only by the commands that need them.
  build({ ...common, entryPoints: ["dist/src/cli/main.js"], outfile: "dist/src/cli/main.cjs", external: ["../daemon/main.js", "../image/index.js"] }),
  build({ ...common, entryPoints: ["dist/src/runtime/runc/main.js"], outfile: "dist/src/runtime/runc.cjs" }),
]);
