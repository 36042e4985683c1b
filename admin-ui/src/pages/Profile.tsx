// The signed-in user's own account: password, two-factor sign-in (set up with an
// authenticator app, recovery codes shown once), and their sessions.

import { useCallback, useState, type FormEvent } from "react";
import type { Me, SessionInfo } from "../api/client";
import { useLoad } from "../api/load";
import { useSession } from "../session";
import { Confirm, ErrorMessage, Loading, Table, TextField, useSubmit } from "../ui";

export default function Profile() {
  const { client, user, setUser } = useSession();
  const refresh = useCallback(() => {
    client
      .get<Me>("/auth/me")
      .then((me) => setUser(me.data))
      .catch(() => undefined);
  }, [client, setUser]);
  if (!user) return <Loading />;
  return (
    <>
      <h1>Your profile</h1>
      <p className="lead">
        {user.name ? `${user.name} · ` : ""}
        {user.email} · role {user.role}
      </p>
      <div className="panels">
        <PasswordForm />
        <TwoFactor enabled={!!user.two_factor} onChange={refresh} />
      </div>
      <Sessions />
    </>
  );
}

function PasswordForm() {
  const { client } = useSession();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [done, setDone] = useState(false);
  const { submit, error } = useSubmit(async () => {
    setDone(false);
    await client.post("/auth/password", { current_password: current, new_password: next });
    setDone(true);
    setCurrent("");
    setNext("");
  });
  return (
    <form className="panel" onSubmit={submit} aria-labelledby="password-title">
      <h2 id="password-title">Password</h2>
      {done ? (
        <p className="notice" role="status">
          Password changed; your other sessions have ended.
        </p>
      ) : null}
      <ErrorMessage error={error} />
      <TextField
        label="Current password"
        type="password"
        autoComplete="current-password"
        value={current}
        onValue={setCurrent}
        required
      />
      <TextField
        label="New password (at least 10 characters)"
        type="password"
        autoComplete="new-password"
        minLength={10}
        value={next}
        onValue={setNext}
        required
      />
      <button type="submit">Change password</button>
    </form>
  );
}

function TwoFactor({ enabled, onChange }: { enabled: boolean; onChange: () => void }) {
  const { client } = useSession();
  const [setup, setSetup] = useState<{ secret: string; otpauth_uri: string } | null>(null);
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  const [codes, setCodes] = useState<string[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const start = async () => {
    setError(null);
    try {
      const r = await client.post<{ data: { secret: string; otpauth_uri: string } }>("/auth/two-factor/setup");
      setSetup(r.data);
    } catch (err) {
      setError(err);
    }
  };
  const enable = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await client.post<{ data: { recovery_codes: string[] } }>("/auth/two-factor/enable", {
        code: code.replace(/\s/g, ""),
      });
      setCodes(r.data.recovery_codes);
      setSetup(null);
      setCode("");
      onChange();
    } catch (err) {
      setError(err);
    }
  };
  const disable = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await client.post("/auth/two-factor/disable", { password });
      setPassword("");
      onChange();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="panel" aria-labelledby="tfa-title">
      <h2 id="tfa-title">Two-factor sign-in</h2>
      <ErrorMessage error={error} />
      {codes ? (
        <div className="banner secret" role="region" aria-label="Recovery codes">
          <p>
            Two-factor sign-in is on. Keep these recovery codes somewhere safe: each works once, and they are shown only
            now.
          </p>
          <ul className="codes mono">
            {codes.map((c) => (
              <li key={c}>{c}</li>
            ))}
          </ul>
          <button type="button" className="link" onClick={() => setCodes(null)}>
            I have saved them
          </button>
        </div>
      ) : null}
      {enabled && !codes ? (
        <form onSubmit={disable}>
          <p>On: signing in asks for a code from your authenticator app.</p>
          <TextField
            label="Password (to turn it off)"
            type="password"
            autoComplete="current-password"
            value={password}
            onValue={setPassword}
            required
          />
          <button type="submit" className="danger">
            Turn off
          </button>
        </form>
      ) : null}
      {!enabled && !setup ? (
        <>
          <p>Off. With it on, signing in also asks for a code from an authenticator app.</p>
          <button type="button" onClick={() => void start()}>
            Set up two-factor sign-in
          </button>
        </>
      ) : null}
      {setup ? (
        <form onSubmit={enable}>
          <p>
            Add this account to your authenticator app with the key below (or open the link on the device that has the
            app), then enter the code it shows.
          </p>
          <p>
            Key: <code className="mono">{setup.secret}</code>
          </p>
          <p>
            <a href={setup.otpauth_uri}>Open in an authenticator app</a>
          </p>
          <TextField
            label="Code from the app"
            inputMode="numeric"
            autoComplete="one-time-code"
            value={code}
            onValue={setCode}
            required
          />
          <button type="submit">Turn on</button>
        </form>
      ) : null}
    </section>
  );
}

function Sessions() {
  const { client } = useSession();
  const sessions = useLoad(() => client.get<{ data: SessionInfo[] }>("/auth/sessions").then((r) => r.data), [client]);
  const [error, setError] = useState<unknown>(null);
  const [ending, setEnding] = useState<SessionInfo | null>(null);
  return (
    <section aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <ErrorMessage error={error || sessions.error} />
      {!sessions.data ? <Loading /> : null}
      {sessions.data ? (
        <Table caption="Your sessions" columns={["Browser", "From", "Last seen", "Expires", ""]}>
          {sessions.data.map((s) => (
            <tr key={s.id}>
              <td>{s.user_agent ?? "unknown"}</td>
              <td>{s.address ?? ""}</td>
              <td>{new Date(s.last_seen_at).toLocaleString()}</td>
              <td>{new Date(s.expires_at).toLocaleString()}</td>
              <td>
                {s.current ? (
                  <span className="muted">this one</span>
                ) : (
                  <button type="button" className="danger small" onClick={() => setEnding(s)}>
                    Sign out
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
      {ending ? (
        <Confirm
          title="Sign this session out?"
          body="Whoever uses it has to sign in again."
          confirm="Sign out"
          onCancel={() => setEnding(null)}
          onConfirm={() => {
            const s = ending;
            setEnding(null);
            client
              .delete(`/auth/sessions/${s.id}`)
              .then(() => sessions.reload())
              .catch(setError);
          }}
        />
      ) : null}
    </section>
  );
}
