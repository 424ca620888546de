/** Billing & Limits: the plan, seats and devices used of their limits, whom to ask, plan change. */
import { useState } from "hono/jsx/dom";
import { api, get } from "../api";
import { useAction, useLoad } from "../hooks";
import { type Account, can, loadProfile, type Me } from "../session";
import { Alert, Busy, inputValue, PageHeader, problemText } from "../ui";

interface Limits {
  plan: string;
  users: {
    limit: number;
    active: number;
    pending_invitations: number;
    available: number;
    override: number | null;
  };
  devices: { limit: number; used: number; available: number; override: number | null };
  managed_by: { type: "direct" } | { type: "reseller"; name: string };
}

const PLANS = ["free", "team", "business", "enterprise"];

function Meter({
  label,
  used,
  limit,
  detail,
}: {
  label: string;
  used: number;
  limit: number;
  detail: string;
}) {
  const pct = limit > 0 ? Math.min(100, Math.round((used / limit) * 100)) : 100;
  return (
    <div class="meter-block">
      <p class="meter-label">
        <strong>{label}</strong>{" "}
        <span>
          {used} of {limit} used
        </span>
      </p>
      <meter
        min={0}
        max={limit || 1}
        value={used}
        high={(limit || 1) * 0.9}
        aria-label={`${label}: ${used} of ${limit}`}
        class={pct >= 100 ? "full" : ""}
      />
      <p class="muted">{detail}</p>
    </div>
  );
}

export function BillingScreen({ me, account }: { me: Me; account: Account }) {
  const limits = useLoad(() => get<Limits>("/v1/account/limits"), []);
  const [plan, setPlan] = useState(account.plan);
  const [notice, setNotice] = useState<string | null>(null);
  const action = useAction();
  if (limits.loading && !limits.data) return <Busy label="Loading limits…" />;
  if (!limits.data) return <Alert>{problemText(limits.error)}</Alert>;
  const l = limits.data;
  const usedSeats = l.users.active + l.users.pending_invitations;
  const contact =
    l.managed_by.type === "reseller"
      ? `Your plan is managed by ${l.managed_by.name}. To expand it, contact ${l.managed_by.name}.`
      : "To expand beyond the largest plan, or to set a custom limit, contact support.";
  const change = async (e: Event) => {
    e.preventDefault();
    setNotice(null);
    const done = await action.run(() => api("POST", "/v1/account/plan", { body: { plan } }));
    if (done) {
      setNotice(`The plan is now ${plan}.`);
      limits.reload();
      loadProfile();
    }
  };
  return (
    <section>
      <p class="crumbs">Settings /</p>
      <PageHeader title="Billing & Limits" />
      <div class="cards">
        <section class="card" aria-labelledby="plan-title">
          <h2 id="plan-title">Plan</h2>
          <p class="plan-name">{l.plan}</p>
          <p>{contact}</p>
          {can(me, "billing:write") && l.managed_by.type === "direct" && (
            <form onSubmit={change}>
              <div class="field">
                <label for="plan">Change plan</label>
                <select id="plan" value={plan} onChange={(e: Event) => setPlan(inputValue(e))}>
                  {PLANS.map((p) => (
                    <option key={p} value={p}>
                      {p}
                    </option>
                  ))}
                </select>
              </div>
              {action.error ? <Alert>{problemText(action.error)}</Alert> : null}
              {notice && <Alert kind="ok">{notice}</Alert>}
              <div class="form-actions">
                <button
                  type="submit"
                  class="button primary"
                  disabled={action.busy || plan === l.plan}
                >
                  Change plan
                </button>
                {action.busy && <Busy label="Changing…" />}
              </div>
            </form>
          )}
        </section>
        <section class="card" aria-labelledby="usage-title">
          <h2 id="usage-title">Usage</h2>
          <Meter
            label="Users"
            used={usedSeats}
            limit={l.users.limit}
            detail={`${l.users.active} active, ${l.users.pending_invitations} pending invitations; ${l.users.available} available${l.users.override !== null ? " (custom limit)" : ""}.`}
          />
          <Meter
            label="Devices"
            used={l.devices.used}
            limit={l.devices.limit}
            detail={`${l.devices.available} available${l.devices.override !== null ? " (custom limit)" : ""}.`}
          />
        </section>
      </div>
    </section>
  );
}
