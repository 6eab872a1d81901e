/** Shell quoting for generated scripts. Values are validated before they get here; quoting is a second wall. */

/** Quote one word for POSIX sh/bash: single quotes, with embedded single quotes closed and escaped. */
export function shQuote(value: string): string {
  if (value.includes("\0")) throw new Error("shQuote: NUL bytes cannot be passed to a shell");
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A bash array literal of quoted words: `( 'a' 'b' )`. */
export function shArray(values: readonly string[]): string {
  return values.length === 0 ? "()" : `( ${values.map(shQuote).join(" ")} )`;
}
