import { useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router-dom";
import type { LoginAnswer } from "../api/client";
import { useSession } from "../session";
import { ErrorMessage, TextField } from "../ui";
import { safeNext } from "../text";

export default function Login() {
  const { client, user, setUser } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [challenge, setChallenge] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  if (user) {
    return <Navigate to={next} replace />;
  }

  const finish = (answer: LoginAnswer) => {
    if (answer.data.two_factor_required) {
      setChallenge(answer.data.challenge);
      return;
    }
    setUser(answer.data.user);
    navigate(next, { replace: true });
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (challenge) {
        finish(await client.post<LoginAnswer>("/auth/login/two-factor", { challenge, code: code.trim() }));
      } else {
        finish(await client.post<LoginAnswer>("/auth/login", { email, password }));
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="center">
      <form className="card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in to Folio</h1>
        <ErrorMessage error={error} />
        {challenge ? (
          <TextField
            label="Code from your authenticator app (or a recovery code)"
            name="code"
            autoComplete="one-time-code"
            inputMode="numeric"
            value={code}
            onValue={setCode}
            required
            autoFocus
          />
        ) : (
          <>
            <TextField
              label="Email"
              name="email"
              type="email"
              autoComplete="username"
              value={email}
              onValue={setEmail}
              required
              autoFocus
            />
            <TextField
              label="Password"
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onValue={setPassword}
              required
            />
          </>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : challenge ? "Verify" : "Sign in"}
        </button>
        {!challenge ? (
          <p className="below">
            <Link to="/reset-password">Forgot your password?</Link>
          </p>
        ) : null}
      </form>
    </div>
  );
}
