// Runs a Python file under real MicroPython (the official WebAssembly port).
// usage: node run.mjs [--mount HOSTDIR:/mp/path ...] SCRIPT.py [args...]
// Host folders are copied into MicroPython's in-memory file system and put on
// sys.path, so firmware modules import exactly as on a board. The exit code is
// 1 when the script raises, 0 otherwise.
//
// A line "# --- run.mjs: new call ---" splits the script into consecutive
// calls into the same interpreter (globals carry over). Each call may use
// top-level `await`: asyncio tasks run on Node's event loop (the port's
// asyncio has no run()), and tasks still pending when the script ends are
// dropped with the process. The WebAssembly port
// frees garbage only between calls (its collector sees stale references on the
// wasm stack during a call), so memory measurements put gc.collect() and
// gc.mem_alloc() at the start of a new call.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";

const argv = process.argv.slice(2);
const mounts = [];
while (argv[0] === "--mount") {
  argv.shift();
  const [host, target] = argv.shift().split(":");
  mounts.push([host, target]);
}
const script = argv.shift();
if (!script) {
  console.error("usage: node run.mjs [--mount HOST:/path ...] SCRIPT.py [args...]");
  process.exit(2);
}

function copyTree(FS, host, target) {
  FS.mkdirTree(target);
  for (const name of fs.readdirSync(host)) {
    if (name === "__pycache__" || name === "node_modules") continue;
    const src = path.join(host, name);
    const dst = `${target}/${name}`;
    if (fs.statSync(src).isDirectory()) copyTree(FS, src, dst);
    else FS.writeFile(dst, fs.readFileSync(src));
  }
}

let out = "";
const mp = await loadMicroPython({
  heapsize: 8 * 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
for (const [host, target] of mounts) copyTree(mp.FS, host, target);
const paths = mounts.map(([, t]) => JSON.stringify(t)).join(", ");
const argvPy = JSON.stringify([script, ...argv]);
try {
  mp.runPython(`import sys\nsys.path[:0] = [${paths}]\nsys.argv[:] = ${argvPy}`);
  const source = fs.readFileSync(script, "utf8");
  for (const part of source.split(/^# --- run\.mjs: new call ---$/m)) await mp.runPythonAsync(part);
} catch (err) {
  console.error(String(err.message || err));
  process.exit(1);
}
process.exit(0);
