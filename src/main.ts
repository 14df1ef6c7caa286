#!/usr/bin/env node
/**
 * `doorstep --config FILE`: loads the Synapse-style config, starts every listener,
 * and shuts down gracefully on SIGTERM/SIGINT.
 */
import { ConfigError, loadConfigFile } from './config';
import { createHomeserver } from './app';
import { rootLogger, setLogLevel } from './log';

function usage(): never {
  process.stderr.write('usage: doorstep --config FILE\n');
  process.exit(2);
}

function configPathFrom(argv: string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' || a === '-c' || a === '--config-path') return argv[i + 1] ?? usage();
    if (a.startsWith('--config=')) return a.slice('--config='.length);
    if (a === '--help' || a === '-h') usage();
  }
  return usage();
}

async function main(): Promise<void> {
  const file = configPathFrom(process.argv.slice(2));
  let loaded;
  try {
    loaded = loadConfigFile(file);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`doorstep: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const { config, unknownKeys, warnings } = loaded;
  setLogLevel(config.logLevel);
  const log = rootLogger.child('main');
  if (unknownKeys.length) log.warn('ignoring config keys Doorstep does not use', { keys: unknownKeys });
  for (const w of warnings) log.warn(w);

  let hs;
  try {
    hs = createHomeserver(config);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`doorstep: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  try {
    await hs.start();
  } catch (e) {
    process.stderr.write(`doorstep: ${(e as Error).message}\n`);
    await hs.stop().catch(() => undefined);
    process.exit(1);
  }
  log.info('ready', { serverName: config.serverName, publicBaseUrl: config.publicBaseUrl });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    hs.stop().then(
      () => process.exit(0),
      (e) => {
        log.error('shutdown failed', { err: e });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`doorstep: fatal: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
