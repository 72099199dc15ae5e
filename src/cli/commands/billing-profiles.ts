import type { Command } from 'commander';

/** `steward billing-profiles …` (placeholder: filled in by issue 3). */
export function registerBillingProfileCommands(_program: Command): void {}
