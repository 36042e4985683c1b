// Pages reached from mailed links or from the sign-in page while signed out: asking for a
// password-reset link, setting a password from a reset or invitation link, and confirming an
// email address. Tokens leave the address bar as soon as they are read.

import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { useSession } from "../session";
import { ErrorMessage, TextField, useSubmit } from "../ui";

/** The link's `token`, taken out of the address bar (and so out of history and referrers). */
function useLinkToken(): string {
  const [params] = useSearchParams();
  const [token] = useState(() => params.get("token") ?? "");
  useEffect(() => {
    if (token) {
      const url = new URL(window.location.href);
      url.searchParams.delete("token");
      window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
    }
  }, [token]);
  return token;
}

/** `/reset-password`: without a token, ask for a link; with one, choose a new password. */
export function ResetPassword() {
  const token = useLinkToken();
  return token ? <ChoosePassword token={token} /> : <RequestLink />;
}

function RequestLink() {
  const { client } = useSession();
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  const { submit, busy, error } = useSubmit(async () => {
    await client.post("/auth/password-reset", { email });
    setSent(true);
  });
  return (
    <div className="center">
      <form className="card" onSubmit={submit} aria-labelledby="reset-title">
        <h1 id="reset-title">Reset your password</h1>
        {sent ? (
          <p role="status">
            If an account has this address, a link to choose a new password is on its way. It works once, for an hour.
          </p>
        ) : (
          <>
            <ErrorMessage error={error} />
            <TextField label="Email" type="email" autoComplete="username" value={email} onValue={setEmail} required />
            <button type="submit" disabled={busy}>
              {busy ? "Sending…" : "Send the link"}
            </button>
          </>
        )}
        <p>
          <Link to="/login">Back to sign-in</Link>
        </p>
      </form>
    </div>
  );
}

function ChoosePassword({ token }: { token: string }) {
  const { client } = useSession();
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [done, setDone] = useState(false);
  const mismatch = again !== "" && again !== password;
  const { submit, busy, error } = useSubmit(async () => {
    if (mismatch) return;
    await client.post("/auth/password-reset/complete", { token, password });
    setDone(true);
  });
  return (
    <div className="center">
      <form className="card" onSubmit={submit} aria-labelledby="choose-title">
        <h1 id="choose-title">Choose a password</h1>
        {done ? (
          <>
            <p role="status">Your password is set.</p>
            <Link className="button" to="/login">
              Sign in
            </Link>
          </>
        ) : (
          <>
            <ErrorMessage error={error} />
            <TextField
              label="New password (at least 10 characters)"
              type="password"
              autoComplete="new-password"
              minLength={10}
              value={password}
              onValue={setPassword}
              required
            />
            <TextField
              label="The same password again"
              type="password"
              autoComplete="new-password"
              value={again}
              onValue={setAgain}
              aria-invalid={mismatch || undefined}
              required
            />
            {mismatch ? <p className="field-error">The two passwords differ.</p> : null}
            <button type="submit" disabled={busy || mismatch}>
              {busy ? "Saving…" : "Set the password"}
            </button>
          </>
        )}
      </form>
    </div>
  );
}

/** `/verify-email?token=…`: confirms the address the link was sent to. */
export function VerifyEmail() {
  const token = useLinkToken();
  const { client } = useSession();
  const [state, setState] = useState<"working" | "done" | unknown>(token ? "working" : null);
  useEffect(() => {
    if (!token) return;
    client
      .post("/auth/verify-email", { token })
      .then(() => setState("done"))
      .catch((e: unknown) => setState(e));
  }, [client, token]);
  return (
    <div className="center">
      <div className="card">
        <h1>Confirm your email address</h1>
        {state === "working" ? <p role="status">Confirming…</p> : null}
        {state === "done" ? <p role="status">Thank you: your address is confirmed.</p> : null}
        {state !== "working" && state !== "done" ? (
          state ? (
            <ErrorMessage error={state} />
          ) : (
            <p>Open the link from the email you were sent.</p>
          )
        ) : null}
        <p>
          <Link to="/">Go to Folio</Link>
        </p>
      </div>
    </div>
  );
}
