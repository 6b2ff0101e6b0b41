import fc from 'fast-check'

/** Numbers at the edges parsers and offset arithmetic get wrong. */
export const BOUNDARY_NUMBERS: readonly number[] = [
  -1, 0, 1, -0, 0.5, -0.5, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53),
  1e21, 1e308, -1e308, Number.MIN_VALUE, 10_000, 10_001, 65_536, 9999.999
]

/** Strings that are numbers to a lenient reader, or almost. */
export const NUMERIC_STRINGS: readonly string[] = [
  '0', '-1', '1', '01', '1.0', '1e3', '0x10', '2147483648', '9007199254740993', '1e308', 'NaN', 'Infinity', '-0', ' 1', '1 ', '', '+1', '١٢'
]

/** Text that trips encoders, normalisers, regular expressions and terminals. */
export const ODD_STRINGS: readonly string[] = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udc00y', '\ud83d\ude00', '🚀-topic', 'topic\u202eevil', '\u200f\u200e', '\ufeffbom',
  'e\u0301', '\u2028\u2029', '\r\n', '\t', '..', '.', '../etc/passwd', '%2e%2e', '%00', '%', '{}', '[]', 'null', 'true',
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', '$ref', '\\', '"', "'", '<script>', '$' + '{x}', '*', '.*', '(', '[',
  'a'.repeat(249), 'a'.repeat(250), 'a'.repeat(256), 'a'.repeat(257), 'ü'.repeat(200), '𝕏'.repeat(130)
]

/** A string of `length` made of one character. */
export const longString = (length: number): string => 'x'.repeat(length)

/** An odd string: from the list, unicode of any plane (lone surrogates included), or long. */
export function oddString (): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...ODD_STRINGS) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    { weight: 1, arbitrary: fc.constantFrom(...NUMERIC_STRINGS) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 70_000 }).map(longString) }
  )
}

/** An object nested `depth` levels deep: {"a":{"a":…}}, or arrays inside arrays. */
export function deeplyNested (depth: number, arrays: boolean): unknown {
  let value: unknown = arrays ? [] : {}
  for (let i = 0; i < depth; i++) value = arrays ? [value] : { a: value }
  return value
}

/** Any JSON value a hostile client could put where another was expected. */
export function hostileValue (): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom<unknown>(...BOUNDARY_NUMBERS) },
    { weight: 4, arbitrary: oddString() },
    { weight: 2, arbitrary: fc.constantFrom<unknown>(null, true, false, [], {}, [null], { '': null }) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 12_000 }).map(n => Array.from({ length: n }, (_, i) => i)) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 2_000 }).chain(n => fc.boolean().map(arrays => deeplyNested(n, arrays))) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }
  )
}
