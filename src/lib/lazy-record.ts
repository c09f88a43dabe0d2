/**
 * A factory of objects whose fields are built on first read, each once per object: for a record
 * of many parts of which each user touches a few (a transaction's metadata store builds the
 * sub-stores its work uses, not all of them). The getters live on one prototype shared by every
 * object; an object holds its input and what it has built.
 */
export function lazyRecord<Input, T extends object>(builders: { readonly [K in keyof T]: (input: Input, self: T) => T[K] }): (input: Input) => T {
  class Lazy {
    readonly built: Partial<T> = {};
    constructor(readonly input: Input) {}
  }
  for (const key of Object.keys(builders) as Array<keyof T>) {
    Object.defineProperty(Lazy.prototype, key, {
      enumerable: true,
      get(this: Lazy) {
        return (this.built[key] ??= builders[key](this.input, this as unknown as T));
      },
    });
  }
  return (input) => new Lazy(input) as unknown as T;
}

/** Every field of a lazy record, built now, as a plain object: for callers that copy its fields. */
export function builtWhole<T extends object>(record: T): T {
  const fields = Object.keys(Object.getPrototypeOf(record) as object) as Array<keyof T>;
  return Object.fromEntries(fields.map((field) => [field, record[field]])) as T;
}
