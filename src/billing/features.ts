/**
 * Plan features: which plans include each one, and the one check every gated route and
 * credential goes through. The principal already carries its plan row, so deciding costs
 * no query; the plan lists here say where to go in the refusal and must stay in step with
 * the `plans` rows (a test compares them).
 */
import type { PlanRow } from "../context";
import { AppError } from "../lib/errors";
import type { PlanId } from "./plans";

export const FEATURES = {
  api_tokens: { name: "API tokens", plural: true, plans: ["team", "business", "enterprise"] },
  webhooks: { name: "Webhooks", plural: true, plans: ["business", "enterprise"] },
  team_login: { name: "Team login", plural: false, plans: ["enterprise"] },
  scim: { name: "SCIM provisioning", plural: false, plans: ["enterprise"] },
} as const satisfies Record<string, { name: string; plural: boolean; plans: readonly PlanId[] }>;

export type Feature = keyof typeof FEATURES;

export const hasFeature = (plan: Pick<PlanRow, "features">, feature: Feature) =>
  plan.features.includes(feature);

const listed = (items: readonly string[]) =>
  items.length > 1 ? `${items.slice(0, -1).join(", ")} and ${items.at(-1)}` : (items[0] ?? "");

/** Throws 403 `feature_not_in_plan`, naming the feature and the plans that have it. */
export function requireFeature(principal: { plan: PlanRow }, feature: Feature) {
  if (hasFeature(principal.plan, feature)) return;
  const { name, plural, plans } = FEATURES[feature];
  const [is, it] = plural ? ["are", "they are"] : ["is", "it is"];
  throw new AppError(
    "feature_not_in_plan",
    `${name} ${is} not in the ${principal.plan.id} plan; ${it} in ${listed(plans)}.`,
    { feature, plans },
  );
}
