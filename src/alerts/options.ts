/**
 * Option merging shared by the engine and the dispatcher.
 * @module
 */

/** The options that were given (an `undefined` must not replace a default). */
export function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
