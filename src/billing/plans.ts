/** The plans every account is on; their limits and features are rows of the `plans` table. */
export const PLAN_IDS = ["free", "team", "business", "enterprise"] as const;
export type PlanId = (typeof PLAN_IDS)[number];
