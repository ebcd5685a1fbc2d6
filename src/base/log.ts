// The logging interface every module receives; src/bin wires pino behind it. One child logger per
// module (`log.child({ module: 'impl:vm' })`), structured fields first, message second.
export interface Logger {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
  child(fields: object): Logger;
}

/** Drops everything: for unit tests and tools that must stay quiet. */
export const nullLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => nullLogger,
};
