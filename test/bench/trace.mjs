// Preloaded into one kvlog process by `npm run bench -- --cpu-prof DIR` (node --import): a
// timeline of where a run's wall time goes, written to stderr at exit, in ms since the process
// started: when each of kvlog's modules and packages was first loaded (module.registerHooks),
// and every HTTP request (undici's diagnostics channels: connect, TLS done, headers back).
import { channel } from "node:diagnostics_channel";
import { registerHooks } from "node:module";

const t = () => performance.now().toFixed(0).padStart(5);
const lines = [];
const seen = new Set();
const label = (url) => {
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url) ?? /\/(dist\/.*|bin\/.*)$/.exec(url);
  return m?.[1];
};
registerHooks?.({
  load(url, context, next) {
    const name = label(url);
    if (name && !seen.has(name)) {
      seen.add(name);
      lines.push(`${t()} ms  load ${name}`);
    }
    return next(url, context);
  },
});
channel("kvlog:preconnect").subscribe(({ event, hostname, port }) => lines.push(`${t()} ms  preconnect ${hostname}:${port} ${event}`));
const reqs = new WeakMap();
channel("undici:client:beforeConnect").subscribe(({ connectParams: p }) => lines.push(`${t()} ms  connect ${p.protocol}//${p.hostname}:${p.port}`));
channel("undici:client:connected").subscribe(({ connectParams: p }) => lines.push(`${t()} ms  connected ${p.hostname}:${p.port} (TLS done)`));
channel("undici:request:create").subscribe(({ request }) => {
  reqs.set(request, performance.now());
  lines.push(`${t()} ms  request ${request.method} ${request.origin}${request.path.split("?")[0]}`);
});
channel("undici:request:headers").subscribe(({ request, response }) =>
  lines.push(`${t()} ms  answer ${response.statusCode} ${request.method} ${request.path.split("?")[0]} (${(performance.now() - (reqs.get(request) ?? 0)).toFixed(0)} ms)`),
);
process.on("exit", () => process.stderr.write(`trace:\n${lines.join("\n")}\n${t()} ms  exit\n`));
