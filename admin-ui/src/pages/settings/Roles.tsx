// `/settings/roles`: the built-in roles described, the custom ones listed with what they may
// do, and the editor of a custom role's permission matrix (per content type, a default for
// every type, and the media library).

import { useMemo, useState, type FormEvent } from "react";
import { useOutletContext } from "react-router-dom";
import type { Action, ContentTypeSummary } from "../../api/client";
import { useSession } from "../../session";
import { Confirm, ErrorMessage, Loading, Table, TextField } from "../../ui";
import { type CustomRole, useRoles } from "./access";

const ACTIONS: Action[] = ["read", "create", "update", "delete", "publish"];
const BUILT_IN_DESCRIPTIONS: Record<string, string> = {
  admin: "Everything, including users, roles, tokens and the audit log.",
  editor: "Every action on every content type and the media library.",
  author: "Reads everything; creates, changes and deletes only their own entries and uploads; never publishes.",
  viewer: "Reads entries and media.",
};

export function Roles() {
  const { client } = useSession();
  const { types } = useOutletContext<{ types?: ContentTypeSummary[] }>();
  const roles = useRoles();
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
      roles.reload();
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
      <ErrorMessage error={roles.error || (!editing ? error : null)} />
      {!roles.data ? <Loading /> : null}
      {roles.data ? (
        <Table caption="Roles" columns={["Role", "What it may do", ""]}>
          {roles.data.built_in.map((r) => (
            <tr key={r}>
              <th scope="row">{r}</th>
              <td>{BUILT_IN_DESCRIPTIONS[r] ?? ""}</td>
              <td className="muted">built in</td>
            </tr>
          ))}
          {roles.data.custom.map((r) => (
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
              pattern="[a-z][a-z0-9_\-]*"
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
                roles.reload();
              })
              .catch(setError);
          }}
        />
      ) : null}
    </>
  );
}
