// `/settings/tokens`: API tokens for delivery or, with a role, for the admin API. A new
// token's secret is shown once, right after it is made; a revoked token stays listed.

import { useState, type FormEvent } from "react";
import type { TokenInfo } from "../../api/client";
import { useLoad } from "../../api/load";
import { useSession } from "../../session";
import { dateTime } from "../../text";
import { Confirm, ErrorMessage, Loading, SelectField, Table, TextField } from "../../ui";
import { roleNames, useRoles } from "./access";

export function Tokens() {
  const { client } = useSession();
  const roles = useRoles();
  const tokens = useLoad(() => client.get<{ data: TokenInfo[] }>("/tokens").then((r) => r.data), [client]);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState("");
  const [scope, setScope] = useState("delivery");
  const [role, setRole] = useState("viewer");
  const [expires, setExpires] = useState("");
  const [secret, setSecret] = useState<{ name: string; token: string } | null>(null);
  const [revoking, setRevoking] = useState<TokenInfo | null>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await client.post<{ data: TokenInfo & { token: string } }>("/tokens", {
        name,
        scope,
        ...(scope === "admin" ? { role } : {}),
        ...(expires ? { expires_at: new Date(`${expires}T23:59:59`).toISOString() } : {}),
      });
      setSecret({ name: r.data.name, token: r.data.token });
      setName("");
      tokens.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      <h1>API tokens</h1>
      <p className="lead">
        Delivery tokens read published content (including types not open to the public); admin tokens act on the admin
        API with a role.
      </p>
      <ErrorMessage error={error || tokens.error} />
      {secret ? (
        <div className="banner secret" role="region" aria-label="New token">
          <p>
            The token <strong>{secret.name}</strong> — copy it now: it is shown only this once.
          </p>
          <code className="mono">{secret.token}</code>
          <button type="button" className="secondary" onClick={() => void navigator.clipboard?.writeText(secret.token)}>
            Copy
          </button>
          <button type="button" className="link" onClick={() => setSecret(null)}>
            Done
          </button>
        </div>
      ) : null}
      <form className="filters panel" onSubmit={create} aria-label="Create a token">
        <TextField label="Token name" value={name} onValue={setName} required maxLength={100} />
        <SelectField label="Scope" value={scope} onChange={(e) => setScope(e.target.value)}>
          <option value="delivery">delivery</option>
          <option value="admin">admin</option>
        </SelectField>
        {scope === "admin" ? (
          <SelectField label="Acts as role" value={role} onChange={(e) => setRole(e.target.value)}>
            {roleNames(roles.data).map((r) => (
              <option key={r}>{r}</option>
            ))}
          </SelectField>
        ) : null}
        <label>
          Expires (optional)
          <input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </label>
        <button type="submit">Create token</button>
      </form>
      {!tokens.data ? <Loading /> : null}
      {tokens.data ? (
        <Table caption="API tokens" columns={["Name", "Scope", "Created", "Expires", "Last used", ""]}>
          {tokens.data.length === 0 ? (
            <tr>
              <td colSpan={6}>No tokens yet.</td>
            </tr>
          ) : null}
          {tokens.data.map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td>
              <td>
                {t.scope}
                {t.role ? ` (${t.role})` : ""}
              </td>
              <td>{dateTime(t.created_at)}</td>
              <td>{dateTime(t.expires_at)}</td>
              <td>{dateTime(t.last_used_at)}</td>
              <td>
                {t.revoked ? (
                  <span className="muted">revoked</span>
                ) : (
                  <button type="button" className="danger small" onClick={() => setRevoking(t)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
      {revoking ? (
        <Confirm
          title={`Revoke ${revoking.name}?`}
          body="Requests with it are refused from now on. This cannot be undone."
          confirm="Revoke"
          onCancel={() => setRevoking(null)}
          onConfirm={() => {
            const t = revoking;
            setRevoking(null);
            client
              .delete(`/tokens/${t.id}`)
              .then(() => tokens.reload())
              .catch(setError);
          }}
        />
      ) : null}
    </>
  );
}
