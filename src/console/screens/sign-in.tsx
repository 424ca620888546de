/** Signing in: password, Team Login (SSO), the code coming back, and a forced password change. */
import { useEffect, useState } from "hono/jsx/dom";
import { ApiError, api } from "../api";
import { useAction } from "../hooks";
import { navigate, useLocation } from "../router";
import { exchangeSsoCode, loadProfile, session, signIn, signOut } from "../session";
import { Alert, Busy, Field, fieldErrors, formProblem } from "../ui";

const SSO_ERRORS: Record<string, string> = {
  sso_jit_disabled:
    "Your identity provider vouched for you, but you are not a user of this account yet. Ask an administrator to invite you.",
  sso_email_unverified: "Your identity provider did not confirm your email address.",
  sso_domain_mismatch: "Your email address is outside the domains this account signs in with.",
  sso_state_invalid: "The sign-in took too long or was started in another browser. Start again.",
  sso_idp_error: "Your identity provider refused or could not complete the sign-in.",
  user_disabled: "Your user has been disabled. Ask an administrator.",
  capacity_exceeded: "The account has no free user seats. Ask an administrator.",
  permission_not_held: "This user cannot sign in through Team Login; use the password instead.",
};

function Frame({ title, children }: { title: string; children: any }) {
  useEffect(() => {
    document.title = title;
  }, [title]);
  return (
    <div class="auth">
      <main id="main" class="auth-card">
        <p class="brand-line">
          <span class="brand-mark" aria-hidden="true">
            UM
          </span>{" "}
          User management console
        </p>
        <h1>{title}</h1>
        {children}
      </main>
    </div>
  );
}

export function SignInScreen({ notice }: { notice?: string }) {
  const { search } = useLocation();
  const [mode, setMode] = useState<"password" | "sso">("password");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const action = useAction();
  const ssoError = search.get("error");
  const fields = fieldErrors(action.error);

  const startSso = (address: string) => {
    const back = `${location.origin}/sso/callback`;
    location.assign(
      `/v1/sso/start?email=${encodeURIComponent(address)}&redirect_to=${encodeURIComponent(back)}`,
    );
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (mode === "sso") {
      await action.run(async () => {
        startSso(email);
      });
      return;
    }
    await action.run(async () => {
      try {
        await signIn(email, password);
        navigate("/", { replace: true });
      } catch (err) {
        if (err instanceof ApiError && err.code === "sso_required") setMode("sso");
        throw err;
      }
    });
  };

  const problem = formProblem(action.error, ["email", "password"]);
  return (
    <Frame title="Sign in">
      {notice && <Alert kind="ok">{notice}</Alert>}
      {ssoError && (
        <Alert>{SSO_ERRORS[ssoError] ?? `Team Login failed (${ssoError}). Try again.`}</Alert>
      )}
      <form onSubmit={submit} noValidate>
        <Field
          id="email"
          label="Email"
          type="email"
          autocomplete="username"
          value={email}
          onValue={setEmail}
          error={fields.email}
          required
        />
        {mode === "password" && (
          <Field
            id="password"
            label="Password"
            type="password"
            autocomplete="current-password"
            value={password}
            onValue={setPassword}
            error={fields.password}
            required
          />
        )}
        {problem && <Alert>{problem}</Alert>}
        <div class="form-actions">
          <button type="submit" class="button primary" disabled={action.busy}>
            {mode === "password" ? "Sign in" : "Continue with SSO"}
          </button>
          {action.busy && <Busy label={mode === "password" ? "Signing in…" : "Redirecting…"} />}
        </div>
      </form>
      <p class="auth-switch">
        {mode === "password" ? (
          <button type="button" class="link-button" onClick={() => setMode("sso")}>
            Sign in with SSO
          </button>
        ) : (
          <button type="button" class="link-button" onClick={() => setMode("password")}>
            Sign in with a password
          </button>
        )}
      </p>
    </Frame>
  );
}

/** `/sso/callback?code=…` (or `?error=`): trades the one-time code for a session. */
export function SsoCallback() {
  const { search } = useLocation();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const code = search.get("code");
    const failed = search.get("error");
    if (failed || !code) {
      session.set({ kind: "signed-out" });
      navigate(`/sign-in?error=${encodeURIComponent(failed ?? "sso_idp_error")}`, {
        replace: true,
      });
      return;
    }
    // The code leaves the address bar before anything else happens: it works once anyway.
    history.replaceState(null, "", "/sso/callback");
    exchangeSsoCode(code).then(
      () => navigate("/", { replace: true }),
      (err) =>
        setError(err instanceof ApiError ? err.detail : "The sign-in could not be completed."),
    );
  }, []);
  return (
    <Frame title="Signing in">
      {error ? (
        <>
          <Alert>{error}</Alert>
          <button
            type="button"
            class="button"
            onClick={() => {
              session.set({ kind: "signed-out" });
              navigate("/sign-in", { replace: true });
            }}
          >
            Back to sign in
          </button>
        </>
      ) : (
        <Busy label="Completing Team Login…" />
      )}
    </Frame>
  );
}

/** The must-change-password step: nothing else works until it is done. */
export function ChangePasswordScreen({ email }: { email: string }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const action = useAction();
  const fields = fieldErrors(action.error);
  const submit = async (e: Event) => {
    e.preventDefault();
    await action.run(async () => {
      await api("POST", "/v1/me/password", {
        body: { current_password: current, new_password: next },
      });
      await loadProfile();
      navigate("/", { replace: true });
    });
  };
  const problem = formProblem(action.error, ["current_password", "new_password"]);
  return (
    <Frame title="Choose a new password">
      <p>
        An administrator reset the password of <strong>{email}</strong>. Choose your own to
        continue: at least 15 characters.
      </p>
      <form onSubmit={submit} noValidate>
        <Field
          id="current_password"
          label="Temporary password"
          type="password"
          autocomplete="current-password"
          value={current}
          onValue={setCurrent}
          error={fields.current_password}
        />
        <Field
          id="new_password"
          label="New password"
          type="password"
          autocomplete="new-password"
          value={next}
          onValue={setNext}
          error={fields.new_password}
        />
        {problem && <Alert>{problem}</Alert>}
        <div class="form-actions">
          <button type="submit" class="button primary" disabled={action.busy}>
            Change password
          </button>
          <button type="button" class="button" onClick={() => signOut()}>
            Sign out
          </button>
          {action.busy && <Busy label="Saving…" />}
        </div>
      </form>
    </Frame>
  );
}
