import { useState, type FormEvent } from "react";
import { useLocation, useNavigate } from "react-router-dom";
import type { Me } from "../api/client";
import { useSession } from "../session";
import { ErrorMessage, TextField } from "../ui";

/** The first administrator, from the one-time link the server logs at its first start. */
export default function Setup() {
  const { client, setUser } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const token = location.hash.replace(/^#/, "");
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await client.post("/auth/setup", { token, name, email, password });
      // Setting up signs the new administrator in.
      const me = await client.get<Me>("/auth/me").catch(() => null);
      if (me) {
        setUser(me.data);
        navigate("/", { replace: true });
      } else {
        navigate("/login", { replace: true });
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (!token) {
    return (
      <div className="center">
        <div className="card">
          <h1>Set up Folio</h1>
          <p>Open the setup link the server printed when it first started.</p>
        </div>
      </div>
    );
  }
  return (
    <div className="center">
      <form className="card" onSubmit={submit} aria-labelledby="setup-title">
        <h1 id="setup-title">Create the first administrator</h1>
        <ErrorMessage error={error} />
        <TextField label="Name" name="name" autoComplete="name" value={name} onValue={setName} />
        <TextField
          label="Email"
          name="email"
          type="email"
          autoComplete="username"
          value={email}
          onValue={setEmail}
          required
        />
        <TextField
          label="Password (at least 10 characters)"
          name="password"
          type="password"
          autoComplete="new-password"
          minLength={10}
          value={password}
          onValue={setPassword}
          required
        />
        <button type="submit" disabled={busy}>
          {busy ? "Creating…" : "Create administrator"}
        </button>
      </form>
    </div>
  );
}
