// Administration, for admins: users (invite, role, disable), roles and their permission
// matrix, API tokens (the secret shown once), and the audit log with filters. One chunk,
// loaded only when an admin opens it.

import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useOutletContext, useSearchParams } from "react-router-dom";
import type { Action, ContentTypeSummary, User } from "../api/client";
import { useGet, useSession } from "../session";
import { filterQuery, pickParams } from "../text";
import { Confirm, ErrorMessage, Loading, TextField, SelectField, Table } from "../ui";

const ACTIONS: Action[] = ["read", "create", "update", "delete", "publish"];
const BUILT_IN_DESCRIPTIONS: Record<string, string> = {
  admin: "Everything, including users, roles, tokens and the audit log.",
  editor: "Every action on every content type and the media library.",
  author: "Reads everything; creates, changes and deletes only their own entries and uploads; never publishes.",
  viewer: "Reads entries and media.",
};

interface Roles {
  built_in: string[];
  custom: CustomRole[];
}

interface CustomRole {
  name: string;
  description: string;
  permissions: Record<string, string[]>;
  own_entries_only: boolean;
  hidden_fields: Record<string, string[]>;
  read_only_fields: Record<string, string[]>;
}

function useRoles(): [Roles | undefined, () => void, unknown] {
  const { client } = useSession();
  const [roles, setRoles] = useState<Roles | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(() => {
    client
      .get<{ data: Roles }>("/roles")
      .then((r) => setRoles(r.data))
      .catch(setError);
  }, [client]);
  useEffect(load, [load]);
  return [roles, load, error];
}

function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

// ---- users --------------------------------------------------------------------------------

export function Users() {
  const { client, user: me } = useSession();
  const [users, setUsers] = useState<User[] | undefined>(undefined);
  const [roles] = useRoles();
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState("editor");
  const [disabling, setDisabling] = useState<User | null>(null);
  const roleNames = useMemo(() => [...(roles?.built_in ?? []), ...(roles?.custom ?? []).map((r) => r.name)], [roles]);

  const load = useCallback(() => {
    client
      .get<{ data: User[] }>("/users")
      .then((r) => setUsers(r.data))
      .catch(setError);
  }, [client]);
  useEffect(load, [load]);

  const invite = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    try {
      await client.post("/users", { email, name, role });
      setNotice(`Invitation sent to ${email}: the link lets them choose a password.`);
      setEmail("");
      setName("");
      load();
    } catch (err) {
      setError(err);
    }
  };

  const change = async (u: User, patch: Partial<Pick<User, "role" | "status">>) => {
    setError(null);
    setNotice(null);
    try {
      await client.patch(`/users/${u.id}`, patch);
      setNotice(
        patch.status === "disabled" ? `${u.email} is disabled and signed out everywhere.` : `${u.email} updated.`,
      );
      load();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      <h1>Users</h1>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorMessage error={error} />
      <form className="filters panel" onSubmit={invite} aria-labelledby="invite-title">
        <h2 id="invite-title" className="visually-hidden">
          Invite a user
        </h2>
        <TextField label="Email" type="email" value={email} onValue={setEmail} required />
        <TextField label="Name" value={name} onValue={setName} />
        <SelectField label="Role" value={role} onChange={(e) => setRole(e.target.value)}>
          {roleNames.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </SelectField>
        <button type="submit">Invite</button>
      </form>
      {!users ? <Loading /> : null}
      {users ? (
        <Table caption="Users" columns={["Name", "Email", "Role", "Two-factor", "Status", ""]}>
          {users.map((u) => (
            <tr key={u.id}>
              <td>{u.name}</td>
              <td>{u.email}</td>
              <td>
                <select
                  aria-label={`Role of ${u.email}`}
                  value={u.role}
                  disabled={u.id === me?.id}
                  onChange={(e) => void change(u, { role: e.target.value })}
                >
                  {roleNames.map((r) => (
                    <option key={r}>{r}</option>
                  ))}
                </select>
              </td>
              <td>{u.two_factor ? "on" : "off"}</td>
              <td>
                <span className={`status${u.status === "active" ? " status-published" : ""}`}>{u.status}</span>
              </td>
              <td>
                {u.id === me?.id ? (
                  <span className="muted">you</span>
                ) : u.status === "disabled" ? (
                  <button
                    type="button"
                    className="secondary small"
                    onClick={() => void change(u, { status: "active" })}
                  >
                    Enable
                  </button>
                ) : (
                  <button type="button" className="danger small" onClick={() => setDisabling(u)}>
                    Disable
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
      {disabling ? (
        <Confirm
          title={`Disable ${disabling.email}?`}
          body="They are signed out everywhere and cannot sign in until enabled again. Their entries stay."
          confirm="Disable"
          onConfirm={() => {
            void change(disabling, { status: "disabled" });
            setDisabling(null);
          }}
          onCancel={() => setDisabling(null)}
        />
      ) : null}
    </>
  );
}

// ---- roles --------------------------------------------------------------------------------

export function RolesPage() {
  const { client } = useSession();
  const { types } = useOutletContext<{ types?: ContentTypeSummary[] }>();
  const [roles, reload, loadError] = useRoles();
  const [editing, setEditing] = useState<CustomRole | null>(null);
  const [isNew, setIsNew] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const keys = useMemo(() => ["*", ...(types ?? []).map((t) => t.id), "media"], [types]);
  const keyLabel = (k: string) =>
    k === "*"
      ? "Every type (unless listed)"
      : k === "media"
        ? "Media library"
        : (types?.find((t) => t.id === k)?.name ?? k);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!editing) return;
    setError(null);
    const { name, ...body } = editing;
    const permissions = Object.fromEntries(Object.entries(body.permissions).filter(([, a]) => a.length));
    try {
      await client.put(`/roles/${encodeURIComponent(name)}`, { ...body, permissions });
      setNotice(`Role ${name} saved.`);
      setEditing(null);
      reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      <div className="list-head">
        <h1>Roles</h1>
        <button
          type="button"
          onClick={() => {
            setIsNew(true);
            setEditing({
              name: "",
              description: "",
              permissions: {},
              own_entries_only: false,
              hidden_fields: {},
              read_only_fields: {},
            });
          }}
        >
          New role
        </button>
      </div>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorMessage error={loadError || (!editing ? error : null)} />
      {!roles ? <Loading /> : null}
      {roles ? (
        <Table caption="Roles" columns={["Role", "What it may do", ""]}>
          {roles.built_in.map((r) => (
            <tr key={r}>
              <th scope="row">{r}</th>
              <td>{BUILT_IN_DESCRIPTIONS[r] ?? ""}</td>
              <td className="muted">built in</td>
            </tr>
          ))}
          {roles.custom.map((r) => (
            <tr key={r.name}>
              <th scope="row">{r.name}</th>
              <td>
                {r.description ? <div>{r.description}</div> : null}
                <span className="muted">
                  {Object.entries(r.permissions)
                    .map(([k, a]) => `${keyLabel(k)}: ${a.join(", ")}`)
                    .join(" · ") || "nothing yet"}
                  {r.own_entries_only ? " · own entries only" : ""}
                </span>
              </td>
              <td className="actions">
                <button
                  type="button"
                  className="secondary small"
                  onClick={() => {
                    setIsNew(false);
                    setEditing(structuredClone(r));
                  }}
                >
                  Edit
                </button>
                <button type="button" className="danger small" onClick={() => setDeleting(r.name)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </Table>
      ) : null}

      {editing ? (
        <form className="panel role-editor" onSubmit={save} aria-labelledby="role-title">
          <h2 id="role-title">{isNew ? "New role" : `Role ${editing.name}`}</h2>
          <ErrorMessage error={error} />
          {isNew ? (
            <TextField
              label="Name"
              value={editing.name}
              onValue={(name) => setEditing({ ...editing, name })}
              pattern="[a-z][a-z0-9_-]*"
              title="Lower-case letters, digits, - and _"
              required
            />
          ) : null}
          <TextField
            label="Description"
            value={editing.description}
            onValue={(description) => setEditing({ ...editing, description })}
          />
          <table className="matrix">
            <caption>Permissions</caption>
            <thead>
              <tr>
                <th scope="col">Content</th>
                {ACTIONS.map((a) => (
                  <th key={a} scope="col">
                    {a}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k}>
                  <th scope="row">{keyLabel(k)}</th>
                  {ACTIONS.map((a) => {
                    const has = editing.permissions[k]?.includes(a) ?? false;
                    const applies = !(k === "media" && a === "publish");
                    return (
                      <td key={a}>
                        {applies ? (
                          <input
                            type="checkbox"
                            aria-label={`${keyLabel(k)}: ${a}`}
                            checked={has}
                            onChange={() => {
                              const current = editing.permissions[k] ?? [];
                              const next = has ? current.filter((x) => x !== a) : [...current, a];
                              setEditing({ ...editing, permissions: { ...editing.permissions, [k]: next } });
                            }}
                          />
                        ) : null}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
          <label className="check">
            <input
              type="checkbox"
              checked={editing.own_entries_only}
              onChange={(e) => setEditing({ ...editing, own_entries_only: e.target.checked })}
            />
            Only the entries and uploads they created
          </label>
          <div className="actions">
            <button type="submit">Save role</button>
            <button type="button" className="secondary" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
        </form>
      ) : null}
      {deleting ? (
        <Confirm
          title={`Delete the role ${deleting}?`}
          body="A role that users or tokens still have cannot be deleted; give them another role first."
          confirm="Delete"
          onCancel={() => setDeleting(null)}
          onConfirm={() => {
            const name = deleting;
            setDeleting(null);
            client
              .delete(`/roles/${encodeURIComponent(name)}`)
              .then(() => {
                setNotice(`Role ${name} deleted.`);
                reload();
              })
              .catch(setError);
          }}
        />
      ) : null}
    </>
  );
}

// ---- tokens -------------------------------------------------------------------------------

interface TokenInfo {
  id: string;
  name: string;
  scope: string;
  role: string | null;
  rate_limit: number;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked: boolean;
}

export function Tokens() {
  const { client } = useSession();
  const [roles] = useRoles();
  const [tokens, setTokens] = useState<TokenInfo[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState("");
  const [scope, setScope] = useState("delivery");
  const [role, setRole] = useState("viewer");
  const [expires, setExpires] = useState("");
  const [secret, setSecret] = useState<{ name: string; token: string } | null>(null);
  const [revoking, setRevoking] = useState<TokenInfo | null>(null);
  const roleNames = [...(roles?.built_in ?? []), ...(roles?.custom ?? []).map((r) => r.name)];

  const load = useCallback(() => {
    client
      .get<{ data: TokenInfo[] }>("/tokens")
      .then((r) => setTokens(r.data))
      .catch(setError);
  }, [client]);
  useEffect(load, [load]);

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
      load();
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
      <ErrorMessage error={error} />
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
            {roleNames.map((r) => (
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
      {!tokens ? <Loading /> : null}
      {tokens ? (
        <Table caption="API tokens" columns={["Name", "Scope", "Created", "Expires", "Last used", ""]}>
          {tokens.length === 0 ? (
            <tr>
              <td colSpan={6}>No tokens yet.</td>
            </tr>
          ) : null}
          {tokens.map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td>
              <td>
                {t.scope}
                {t.role ? ` (${t.role})` : ""}
              </td>
              <td>{when(t.created_at)}</td>
              <td>{when(t.expires_at)}</td>
              <td>{when(t.last_used_at)}</td>
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
            client.delete(`/tokens/${t.id}`).then(load).catch(setError);
          }}
        />
      ) : null}
    </>
  );
}

// ---- audit --------------------------------------------------------------------------------

interface AuditRecord {
  seq: number;
  at: string;
  actor: string;
  address?: string | null;
  action: string;
  target?: string | null;
}

export function Audit() {
  const [params, setParams] = useSearchParams();
  const [actor, setActor] = useState(params.get("actor") ?? "");
  const [action, setAction] = useState(params.get("action") ?? "");
  const [target, setTarget] = useState(params.get("target") ?? "");
  const before = params.get("before");
  const top = useRef<HTMLHeadingElement>(null);
  const query = pickParams(params, ["actor", "action", "target", "before"], { limit: "50" });
  const { data, error } = useGet<{ data: AuditRecord[] }>(`/audit?${query}`);
  const records = data?.data;

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setParams(filterQuery({ actor, action, target }));
  };
  const last = records?.[records.length - 1];

  return (
    <>
      <h1 ref={top}>Audit log</h1>
      <p className="lead">Every change, newest first. The log is append-only and hash-chained.</p>
      <form className="filters" onSubmit={apply} role="search">
        <TextField label="Actor (user:… or token:…)" value={actor} onValue={setActor} />
        <TextField label="Action (or family, e.g. entry)" value={action} onValue={setAction} />
        <TextField label="Target (e.g. article/…)" value={target} onValue={setTarget} />
        <button type="submit">Filter</button>
      </form>
      <ErrorMessage error={error} />
      {!records && !error ? <Loading /> : null}
      {records ? (
        <Table caption="Audit records" columns={["#", "When", "Actor", "Action", "Target", "From"]}>
          {records.length === 0 ? (
            <tr>
              <td colSpan={6}>Nothing matches.</td>
            </tr>
          ) : null}
          {records.map((r) => (
            <tr key={r.seq}>
              <td>{r.seq}</td>
              <td>{when(r.at)}</td>
              <td>{r.actor}</td>
              <td>{r.action}</td>
              <td>{r.target ?? ""}</td>
              <td>{r.address ?? ""}</td>
            </tr>
          ))}
        </Table>
      ) : null}
      <nav className="pager" aria-label="Pages">
        {before ? (
          <button
            type="button"
            className="secondary"
            onClick={() => {
              const next = new URLSearchParams(params);
              next.delete("before");
              setParams(next);
            }}
          >
            Newest
          </button>
        ) : null}
        {records && records.length === 50 && last ? (
          <button
            type="button"
            className="secondary"
            onClick={() => {
              const next = new URLSearchParams(params);
              next.set("before", String(last.seq));
              setParams(next);
              top.current?.scrollIntoView();
            }}
          >
            Older
          </button>
        ) : null}
      </nav>
    </>
  );
}
