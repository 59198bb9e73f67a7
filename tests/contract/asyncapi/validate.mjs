// Validates an AsyncAPI document with the official parser (@asyncapi/parser): prints every
// diagnostic as one JSON line {severity, code, message, path} and exits 1 when any is an error.
// Usage: node validate.mjs DOCUMENT   (the parser is found through NODE_PATH or node_modules)
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import path from "node:path";

const require = createRequire(import.meta.url);
const modulePath = require.resolve("@asyncapi/parser", {
  paths: [...(process.env.NODE_PATH || "").split(path.delimiter).filter(Boolean), process.cwd()],
});
const { Parser, fromFile } = await import(pathToFileURL(modulePath).href);

const file = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, file).parse();
const severities = ["error", "warning", "info", "hint"];
for (const diagnostic of diagnostics) {
  console.log(
    JSON.stringify({
      severity: severities[diagnostic.severity] ?? String(diagnostic.severity),
      code: diagnostic.code,
      message: diagnostic.message,
      path: diagnostic.path.join("."),
    }),
  );
}
process.exit(document === undefined || diagnostics.some((d) => d.severity === 0) ? 1 : 0);
