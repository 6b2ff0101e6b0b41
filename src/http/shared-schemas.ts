import { readdirSync, readFileSync } from 'node:fs'

/** The schemas/ folder of the package (next to src/ and dist/). */
export const SCHEMAS_DIR = new URL('../../schemas/', import.meta.url)

export interface SharedSchema {
  $id: string
  [keyword: string]: unknown
}

/**
 * Every JSON Schema in schemas/, sorted by file name. Each file holds one
 * schema whose `$id` is its file name without `.json`; a file that breaks the
 * rule throws here, at startup.
 */
export function loadSharedSchemas (): SharedSchema[] {
  return readdirSync(SCHEMAS_DIR)
    .filter(name => name.endsWith('.json'))
    .sort()
    .map(name => {
      const schema = JSON.parse(readFileSync(new URL(name, SCHEMAS_DIR), 'utf8')) as Partial<SharedSchema>
      const expected = name.slice(0, -'.json'.length)
      if (schema.$id !== expected && schema.$id?.toLowerCase() !== expected.toLowerCase()) {
        throw new Error(`schemas/${name} must have "$id": "${expected}" (found ${JSON.stringify(schema.$id)})`)
      }
      return schema as SharedSchema
    })
}
