// Browser stand-ins for the node: functions src/memory/models.ts imports but the planner page never calls.
const unavailable = (name: string) => () => { throw new Error(`${name} is not available in the browser`); };
/** Throws: files cannot be read in the browser. */
export const existsSync = unavailable('existsSync');
/** Throws: files cannot be read in the browser. */
export const readFileSync = unavailable('readFileSync');
/** Throws: files cannot be read in the browser. */
export const statSync = unavailable('statSync');
/** Joins with '/' (the browser has no platform separator). */
export const join = (...parts: string[]) => parts.join('/');
