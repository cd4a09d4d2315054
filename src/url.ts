// url: how a URL is shown: never with the user:password a kubeconfig's server or a proxy URL may
// carry, and with an IPv6 host in brackets. The one rule for every table, message, id and JSON
// field that names a server. Pure.

/** `u` without its user:password (unchanged when it has none). */
export function displayUrl(u: URL): string {
  if (!u.username && !u.password) return u.href;
  const c = new URL(u.href);
  c.username = "";
  c.password = "";
  return c.href;
}

/** A kubeconfig's server as shown: no user:password, no trailing "/"; as given when it is not a URL (that context's own run says so). */
export function displayServer(server: string): string {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    return server;
  }
  return displayUrl(u).replace(/\/$/, "");
}

/** A host as it goes before ":port" in a URL or an id: an IPv6 address in brackets (`[fd00::1]`), anything else as it is. */
export function bracketHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
