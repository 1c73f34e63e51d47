export default function Home() {
  return <main className="p-8">LinkBox Ops Console</main>;
}
