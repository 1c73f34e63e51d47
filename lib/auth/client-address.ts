import { isIP } from 'node:net';

// The address a sign-in comes from, for throttling and the audit log. Behind load balancers the
// connection comes from the nearest one, and each appends the address it saw to X-Forwarded-For;
// entries to the left of those were written by the client and prove nothing. So the address is the
// entry `trustedProxyHops` from the right (the one the outermost trusted proxy saw). With no proxy
// (0), it is the connection's own address, which `next start` writes into X-Forwarded-For when the
// request has none; a client that sends the header itself can then name any address, which is why a
// deployment reachable from outside runs behind a proxy and says how many hops it has.

export function clientAddress(forwardedFor: string | null | undefined, trustedProxyHops: number): string | null {
  const entries = (forwardedFor ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) return null;
  const index = trustedProxyHops === 0 ? entries.length - 1 : Math.max(0, entries.length - trustedProxyHops);
  return normalizeAddress(entries[index]!);
}

function normalizeAddress(raw: string): string | null {
  // "[::1]:1234" and "10.0.0.1:1234" as some proxies write them; "::ffff:10.0.0.1" as Node reports IPv4 on a dual-stack socket.
  let address = raw;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(':'));
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address)) address = address.slice(7);
  return isIP(address) ? address.toLowerCase() : null;
}
