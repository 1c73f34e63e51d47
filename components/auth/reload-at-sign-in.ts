// A full page load, not a client-side navigation: the root layout (and its header showing who is
// signed in) only re-renders on a full load, and after a session ends it must show nobody.
export function reloadAtSignIn(reason: 'ended'): void {
  const back = window.location.pathname + window.location.search;
  const target = `/signin?reason=${reason}&callbackUrl=${encodeURIComponent(back)}`;
  // eslint-disable-next-line @next/next/no-location-assign-relative-destination -- a soft navigation would keep the old header
  window.location.assign(target);
}
