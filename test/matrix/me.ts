import type { Area } from './types.ts';

/** Placeholder: issue 3 fills this area's rows. */
export const me: Area = { routes: [] };
