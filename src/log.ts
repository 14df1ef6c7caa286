/**
 * The root logger: one line per record on stderr, `ts level module msg {fields}`.
 * Never log tokens, passwords or keys (docs/design.md §3.8).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(module: string): Logger;
}

interface Sink {
  level: number;
  write: (line: string) => void;
}

function make(sink: Sink, module: string): Logger {
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < sink.level) return;
    let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${module} ${msg}`;
    if (fields && Object.keys(fields).length) line += ' ' + safeJson(fields);
    sink.write(line + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (name) => make(sink, module ? `${module}.${name}` : name),
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (x instanceof Error ? { name: x.name, message: x.message } : x));
  } catch {
    return '[unserialisable]';
  }
}

/** The root logger; the only module-level singleton (docs/design.md §1). */
const rootSink: Sink = { level: ORDER.info, write: (l) => process.stderr.write(l) };
export const rootLogger: Logger = make(rootSink, 'doorstep');

export function setLogLevel(level: LogLevel): void {
  rootSink.level = ORDER[level];
}

/** A logger writing elsewhere (tests capture lines with it). */
export function createLogger(level: LogLevel, write: (line: string) => void, module = 'doorstep'): Logger {
  return make({ level: ORDER[level], write }, module);
}
