/**
 * Thrown by `loadConfig` for anything wrong with the configuration. `problems` holds one line per
 * problem, each shaped `<source>: <key path>: <problem>` where source is the file name,
 * `environment (WHARF_…)` or `flags`; `message` is those lines joined with newlines.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}
