// `/settings/users`: everyone who can sign in; inviting someone (they choose their password
// from the mailed link), changing a role, disabling and enabling.

import { useState, type FormEvent } from "react";
import type { User } from "../../api/client";
import { useLoad } from "../../api/load";
import { useSession } from "../../session";
import { Confirm, ErrorMessage, Loading, SelectField, Table, TextField } from "../../ui";
import { roleNames, useRoles } from "./access";

export function Users() {
  const { client, user: me } = useSession();
  const users = useLoad(() => client.get<{ data: User[] }>("/users").then((r) => r.data), [client]);
  const roles = useRoles();
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState("editor");
  const [disabling, setDisabling] = useState<User | null>(null);
  const names = roleNames(roles.data);

  const invite = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    try {
      await client.post("/users", { email, name, role });
      setNotice(`Invitation sent to ${email}: the link lets them choose a password.`);
      setEmail("");
      setName("");
      users.reload();
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
      users.reload();
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
      <ErrorMessage error={error || users.error} />
      <form className="filters panel" onSubmit={invite} aria-labelledby="invite-title">
        <h2 id="invite-title" className="visually-hidden">
          Invite a user
        </h2>
        <TextField label="Email" type="email" value={email} onValue={setEmail} required />
        <TextField label="Name" value={name} onValue={setName} />
        <SelectField label="Role" value={role} onChange={(e) => setRole(e.target.value)}>
          {names.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </SelectField>
        <button type="submit">Invite</button>
      </form>
      {!users.data ? <Loading /> : null}
      {users.data ? (
        <Table caption="Users" columns={["Name", "Email", "Role", "Two-factor", "Status", ""]}>
          {users.data.map((u) => (
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
                  {names.map((r) => (
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
