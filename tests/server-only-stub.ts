// Replaces 'server-only' under vitest, which runs server code outside React's server bundle.
export {};
