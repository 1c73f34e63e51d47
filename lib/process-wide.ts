// Next bundles pages, route handlers and instrumentation apart, so one server process may load a
// module several times. State that must exist once per process (the cache, AWS clients, running
// rotations, the lock owner) is kept on globalThis under one name each.

export function processWide<T>(name: string, create: () => T): T {
  const slots = globalThis as unknown as Record<string, unknown>;
  const key = `__linkbox:${name}`;
  if (!(key in slots)) slots[key] = create();
  return slots[key] as T;
}
