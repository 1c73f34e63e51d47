// Next's start-up hook. First the environments file and the identity setup: a bad one stops start-up
// here with one line saying what to change, instead of failing page by page or at the first sign-in.
// The OIDC issuer must answer its discovery document; a slow or restarting IdP is retried for about a
// minute before the console gives up (its supervisor then starts it again). Then a console that
// crashed mid-rotation left its progress in the store; this one picks it up so SSM and RDS never stay
// disagreeing longer than a restart.

export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { getConfig } = await import('./lib/config/load');
  const { checkIdentitySetup, discoverIssuer } = await import('./lib/auth/startup');
  try {
    const settings = checkIdentitySetup(getConfig());
    await discoverIssuer(settings, { log: (line) => console.warn(line) });
  } catch (err) {
    console.error(`LinkBox Ops Console cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
  const { resumeUnfinishedRotations } = await import('./lib/rotation');
  // In the background: the server must come up even when the store or AWS is slow to answer.
  void resumeUnfinishedRotations().catch((err: unknown) => {
    console.error(`rotation: could not look for unfinished rotations at start-up: ${(err as Error).message}`);
  });
  // The watcher: every environment checked on an interval by one replica (lib/watcher).
  const { startWatcher } = await import('./lib/watcher');
  try {
    startWatcher();
  } catch (err) {
    console.error(`LinkBox Ops Console cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
}
