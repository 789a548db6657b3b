// Sort order for names and ISO timestamps: by UTF-16 code unit, the same in every locale. Not
// String.prototype.localeCompare, whose first call sets up ICU's collator (~12 ms of a command's
// start-up on the test machine), and whose order would change with the user's locale.
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
