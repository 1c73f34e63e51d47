import 'server-only';
import type { CheckContext } from './context';
import type { CheckDefinition } from './run';

// Every check of DESIGN.md's vocabulary, by area.
export const ALL_CHECKS: ReadonlyArray<CheckDefinition<CheckContext>> = [];
