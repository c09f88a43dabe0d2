/**
 * The configuration module: one zod schema (sections/*), loaded defaults < file < environment <
 * flags, validated and frozen. It imports nothing else from Wharf.
 */
export { ConfigError } from './errors.js';
export { loadConfig, type LoadConfigOptions } from './load.js';
export { maskSecrets, secretKeyPaths, MASK } from './mask.js';
export { defaultConfigYaml } from './default-yaml.js';
export { reservedEnvNames } from './env.js';
export {
  wharfConfigSchema,
  type WharfConfig,
  type WharfConfigInput,
  type ConfigOverrides,
  type DeepPartial,
  type DeepReadonly,
} from './schema.js';
export { storageDrivers, ossKeyAliases } from './sections/storage.js';
export { databaseDrivers } from './sections/database.js';
export { authModes } from './sections/auth.js';
export { logLevels } from './sections/log.js';
