import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import { LogwayError } from './errors.js'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

/** Server settings, validated by schemas/config.json (which holds the defaults). */
export interface Config {
  dataDir: string
  host: string
  port: number
  logLevel: LogLevel
  retentionCheckIntervalMs: number
  bodyLimitBytes: number
  minFreeBytes: number
  idempotencyKeyTtlMs: number
  shutdownGraceMs: number
  consumerInstanceTimeoutMs: number
  consumerMaxInstances: number
  consumerRequestMaxBytes: number
  wsPingIntervalMs: number
  wsMaxFrameBytes: number
  wsMaxInFlight: number
  wsSendBufferBytes: number
  wsSlowConsumerTimeoutMs: number
  maxHeaderBytes: number
  maxConnections: number
  maxEventLoopDelayMs: number
  maxEventLoopUtilization: number
  eventLoopSampleIntervalMs: number
}

export type SettingName = keyof Config

/** Where a setting comes from, derived mechanically from its name. */
export interface SettingInfo {
  name: SettingName
  /** LOGWAY_ + the name in SCREAMING_SNAKE_CASE, e.g. LOGWAY_DATA_DIR. */
  env: string
  /** The name in kebab-case, e.g. data-dir (used as --data-dir). */
  flag: string
  description: string
  default: unknown
}

/** The one environment variable that is not a setting: the path of the JSON config file. */
export const CONFIG_FILE_ENV = 'LOGWAY_CONFIG'

interface PropertySchema {
  type?: 'string' | 'integer' | 'number' | 'boolean'
  enum?: readonly unknown[]
  minimum?: number
  maximum?: number
  minLength?: number
  description?: string
  default?: unknown
}

/** schemas/config.json, read from next to src/ (or dist/). */
export const configSchema = JSON.parse(
  readFileSync(new URL('../schemas/config.json', import.meta.url), 'utf8')
) as { $id: string, properties: Record<SettingName, PropertySchema> }

const properties = configSchema.properties

export const SETTINGS: readonly SettingInfo[] = (Object.keys(properties) as SettingName[]).map(name => ({
  name,
  env: `LOGWAY_${name.replace(/[A-Z]/g, c => `_${c}`).toUpperCase()}`,
  flag: name.replace(/[A-Z]/g, c => `-${c.toLowerCase()}`),
  description: properties[name].description ?? '',
  default: properties[name].default
}))

/** A configuration problem; its message is one line naming the setting (or the file). */
export class ConfigError extends LogwayError {
  /** The setting at fault, when there is one. */
  readonly setting: string | undefined

  constructor (message: string, setting?: string) {
    super('INVALID_CONFIG', message, setting === undefined ? undefined : { setting })
    this.name = 'ConfigError'
    this.setting = setting
  }
}

export interface ConfigSources {
  /** Settings given as command-line flags, by setting name; strings are converted by the schema type. */
  flags?: Partial<Record<SettingName, string>>
  /** The environment; only LOGWAY_* variables are read. Empty values count as unset. */
  env?: Record<string, string | undefined>
  /** Path of a JSON config file (the --config flag); when absent, LOGWAY_CONFIG is used if set. */
  file?: string
}

const ajv = new Ajv({ useDefaults: true, allErrors: false })
const validate = ajv.compile<Config>(configSchema)

/**
 * Builds the configuration: flags win over the environment, which wins over
 * the config file, which wins over the defaults of schemas/config.json.
 * Throws ConfigError (code INVALID_CONFIG) with a one-line message naming the
 * setting on any invalid value, and naming the key for an unknown key in the file.
 */
export function loadConfig (sources: ConfigSources = {}): Config {
  const env = sources.env ?? {}
  const values: Record<string, unknown> = {}
  const origins: Record<string, string> = {}

  const file = sources.file ?? nonEmpty(env[CONFIG_FILE_ENV])
  if (file !== undefined) {
    for (const [name, value] of Object.entries(readConfigFile(file))) {
      if (!Object.hasOwn(properties, name)) {
        throw new ConfigError(`unknown setting ${JSON.stringify(name)} in config file ${file} (known settings: ${SETTINGS.map(s => s.name).join(', ')})`, name)
      }
      values[name] = value
      origins[name] = `in ${file}`
    }
  }
  for (const setting of SETTINGS) {
    const raw = nonEmpty(env[setting.env])
    if (raw !== undefined) {
      values[setting.name] = fromString(setting.name, raw, `from ${setting.env}`)
      origins[setting.name] = `from ${setting.env}`
    }
  }
  for (const setting of SETTINGS) {
    const raw = sources.flags?.[setting.name]
    if (raw !== undefined) {
      values[setting.name] = fromString(setting.name, raw, `from --${setting.flag}`)
      origins[setting.name] = `from --${setting.flag}`
    }
  }

  if (!validate(values)) {
    const error = validate.errors?.[0]
    const name = error?.instancePath.slice(1).split('/')[0] ?? ''
    if (Object.hasOwn(properties, name)) {
      throw invalid(name as SettingName, values[name], origins[name] ?? '')
    }
    throw new ConfigError(`invalid configuration: ${error?.message ?? 'unknown problem'}`)
  }
  return values as unknown as Config
}

function readConfigFile (file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${oneLine((err as Error).message)}`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must hold a JSON object of settings`)
  }
  return parsed as Record<string, unknown>
}

/** Converts a flag or environment string by the setting's schema type; never produces NaN. */
function fromString (name: SettingName, raw: string, origin: string): unknown {
  switch (properties[name].type) {
    case 'integer': {
      const value = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN
      if (!Number.isSafeInteger(value)) throw invalid(name, raw, origin)
      return value
    }
    case 'number': {
      const value = raw.trim() === '' ? Number.NaN : Number(raw)
      if (!Number.isFinite(value)) throw invalid(name, raw, origin)
      return value
    }
    case 'boolean':
      if (raw === 'true') return true
      if (raw === 'false') return false
      throw invalid(name, raw, origin)
    default:
      return raw
  }
}

function invalid (name: SettingName, value: unknown, origin: string): ConfigError {
  const got = `got ${JSON.stringify(value) ?? String(value)}${origin === '' ? '' : ` ${origin}`}`
  return new ConfigError(`invalid setting ${name}: must be ${expectation(properties[name])} (${got})`, name)
}

/** "an integer from 0 to 65535", "one of a, b, c", … from the property schema. */
function expectation (schema: PropertySchema): string {
  if (schema.enum !== undefined) return `one of ${schema.enum.join(', ')}`
  const noun = schema.type === 'integer' ? 'an integer' : schema.type === 'number' ? 'a number' : undefined
  if (noun !== undefined) {
    if (schema.minimum !== undefined && schema.maximum !== undefined) return `${noun} from ${schema.minimum} to ${schema.maximum}`
    if (schema.minimum !== undefined) return `${noun} of at least ${schema.minimum}`
    if (schema.maximum !== undefined) return `${noun} of at most ${schema.maximum}`
    return noun
  }
  if (schema.type === 'boolean') return 'true or false'
  return schema.minLength !== undefined && schema.minLength > 0 ? 'a non-empty string' : 'a string'
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

function oneLine (text: string): string {
  return text.replace(/\s*\n\s*/g, ' ')
}
