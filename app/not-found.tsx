import Link from 'next/link';

export default function NotFound() {
  return (
    <main className="mx-auto mt-16 max-w-md px-4 text-center">
      <h1 className="text-lg font-bold text-slate-900">Not found</h1>
      <p className="mt-2 text-sm text-slate-600">There is no such page or environment in this console&apos;s config.</p>
      <Link href="/" className="mt-4 inline-block text-sm text-sky-800 underline">
        All environments
      </Link>
    </main>
  );
}
