// Lookups by a name the user wrote (a config key, a format, a model id, a unit) in a plain-object table: only the
// table's own entries count, so `constructor`, `toString`, `__proto__`, `hasOwnProperty` or `valueOf` are unknown
// names like any other instead of Object.prototype's members. Writes by such a name stay own data properties.

/** `table[name]` when `table` itself has `name`, else undefined. */
export function own<T>(table: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/**
 * Sets `obj[name] = value` as an own data property, even for `__proto__` (which assignment would treat as the
 * prototype).
 */
export function setOwn<T>(obj: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(obj, name, { value, writable: true, enumerable: true, configurable: true });
}
