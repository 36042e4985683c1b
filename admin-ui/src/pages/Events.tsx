// The change-event log: what changed, oldest first, from a moment on; filters by kind (or
// family), type and entry. Administrators only (the server says so too).
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import type { ChangeEvent } from "../api/client";
import { useGet } from "../api/load";
import { filterQuery, pickParams } from "../text";
import { ErrorMessage, Loading, Table, TextField } from "../ui";

const PAGE = 50;

/** An hour ago, as the server takes it. */
function hourAgo(): string {
  return new Date(Date.now() - 3600_000).toISOString();
}

export default function Events() {
  const [params, setParams] = useSearchParams();
  const [kind, setKind] = useState(params.get("kind") ?? "");
  const [type, setType] = useState(params.get("type") ?? "");
  const [subject, setSubject] = useState(params.get("subject") ?? "");
  const [since, setSince] = useState(params.get("since") ?? "");
  // Without a place to continue from, from the moment asked for (an hour ago by default).
  const [from] = useState(hourAgo);
  const query = pickParams(params, ["kind", "type", "subject", "after"], { limit: String(PAGE) });
  if (!params.get("after")) query.set("since", params.get("since") || from);
  const { data, error } = useGet<{ data: ChangeEvent[]; meta: { next?: string | null } }>(`/events?${query}`);
  const events = data?.data;
  const next = data?.meta.next ?? null;

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setParams(filterQuery({ kind, type, subject, since }));
  };

  return (
    <>
      <h1>Change events</h1>
      <p className="lead">
        Every change to an entry, a media item or an account, oldest first: what search, caches and other systems
        follow. From an hour ago unless you give a time.
      </p>
      <form className="filters" onSubmit={apply} role="search">
        <TextField label="Kind (or family, e.g. entry)" value={kind} onValue={setKind} />
        <TextField label="Type (e.g. article)" value={type} onValue={setType} />
        <TextField label="Entry id" value={subject} onValue={setSubject} />
        <TextField label="Since (e.g. 2026-12-06T08:00:00Z)" value={since} onValue={setSince} />
        <button type="submit">Filter</button>
      </form>
      <ErrorMessage error={error} />
      {!events && !error ? <Loading /> : null}
      {events ? (
        <Table caption="Change events" columns={["When", "Kind", "Entry", "Version", "Status", "Changed", "By"]}>
          {events.length === 0 ? (
            <tr>
              <td colSpan={7}>Nothing {params.get("after") ? "after these yet" : "matches"}.</td>
            </tr>
          ) : null}
          {events.map((e) => (
            <tr key={e.key}>
              <td>{new Date(e.at).toLocaleString()}</td>
              <td>{e.kind}</td>
              <td>
                {e.type && e.subject && e.kind.startsWith("entry.") && e.kind !== "entry.deleted" ? (
                  <Link to={`/content/${e.type}/${e.subject}`}>
                    {e.type}/{e.subject}
                  </Link>
                ) : e.type && e.kind.startsWith("type.") ? (
                  <Link to={`/content/${e.type}`}>{e.type}</Link>
                ) : (
                  `${e.type ?? ""}/${e.subject ?? ""}`
                )}
              </td>
              <td>{e.version ?? ""}</td>
              <td>{e.status ?? ""}</td>
              <td>{e.changed.join(", ")}</td>
              <td>{e.actor ?? ""}</td>
            </tr>
          ))}
        </Table>
      ) : null}
      <nav className="pager" aria-label="Pages">
        {events && events.length > 0 && next ? (
          <button
            type="button"
            className="secondary"
            onClick={() => {
              const q = new URLSearchParams(params);
              q.delete("since");
              q.set("after", next);
              setParams(q);
            }}
          >
            Next
          </button>
        ) : null}
      </nav>
    </>
  );
}
