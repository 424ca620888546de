/** What a refused seat or device says: the limit, the plan, and whom to ask to raise it. */
import { AppError } from "../lib/errors";
import type { CapacityRefusal } from "./account-object";
import type { LimitKind } from "./repo";

export function capacityError(kind: LimitKind, refusal: CapacityRefusal | undefined): AppError {
  const what = kind === "users" ? "user" : "device";
  const plan = refusal?.plan ?? "current";
  const contact = refusal?.reseller
    ? `Ask your reseller, ${refusal.reseller}, to raise it.`
    : "Upgrade the plan under Billing & Limits, or ask platform support to raise it.";
  const limit = refusal?.limit ?? "?";
  return new AppError(
    "capacity_exceeded",
    `The account's ${what} limit (${limit} on the ${plan} plan) is reached. ${contact}`,
    {
      limit: kind,
      limit_value: refusal?.limit ?? null,
      plan,
      contact: refusal?.reseller
        ? { type: "reseller", name: refusal.reseller }
        : { type: "support" },
    },
  );
}
