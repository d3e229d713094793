// Prints the licence of every package bundled into codemirror.js (all of node_modules but esbuild's own).
const fs = require("fs");
const path = require("path");
const lock = require("./package-lock.json");
const out = ["netspec/studio/static/codemirror.js bundles these packages (esbuild, from studio-src/):", ""];
for (const [where, info] of Object.entries(lock.packages)) {
  if (!where || where.includes("esbuild")) continue;
  const dir = path.join(__dirname, where);
  const file = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  out.push(`== ${where.replace(/^node_modules\//, "")} ${info.version} (${info.license}) ==`);
  out.push(file ? fs.readFileSync(path.join(dir, file), "utf8").trim() : "(no licence file)", "");
}
process.stdout.write(out.join("\n") + "\n");
