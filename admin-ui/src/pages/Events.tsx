// The change-event log: what changed, oldest first, from a moment on; filters by kind (or
// family), type and entry. Administrators only (the server says so too).
import { useEffect, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { useSession } from "../session";
import { ErrorMessage, Loading, Table, TextField } from "../ui";

interface ChangeEvent {
  key: string;
  kind: string;
  type?: string | null;
  subject?: string | null;
  actor?: string | null;
  version?: number | null;
  status?: string | null;
  at: string;
  changed: string[];
}

const PAGE = 50;

/** An hour ago, as the server takes it. */
function hourAgo(): string {
  return new Date(Date.now() - 3600_000).toISOString();
}

export default function Events() {
  const { client } = useSession();
  const [params, setParams] = useSearchParams();
  const [events, setEvents] = useState<ChangeEvent[] | undefined>(undefined);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [kind, setKind] = useState(params.get("kind") ?? "");
  const [type, setType] = useState(params.get("type") ?? "");
  const [subject, setSubject] = useState(params.get("subject") ?? "");
  const [since, setSince] = useState(params.get("since") ?? "");

  useEffect(() => {
    let live = true;
    const s = new URLSearchParams({ limit: String(PAGE) });
    for (const k of ["kind", "type", "subject", "after"]) {
      const v = params.get(k);
      if (v) s.set(k, v);
    }
    if (!params.get("after")) s.set("since", params.get("since") || hourAgo());
    setEvents(undefined);
    setError(null);
    client
      .get<{ data: ChangeEvent[]; meta: { next?: string | null } }>(`/events?${s}`)
      .then((r) => {
        if (!live) return;
        setEvents(r.data);
        setNext(r.meta.next ?? null);
      })
      .catch((e: unknown) => live && setError(e));
    return () => {
      live = false;
    };
  }, [client, params]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (kind.trim()) q.set("kind", kind.trim());
    if (type.trim()) q.set("type", type.trim());
    if (subject.trim()) q.set("subject", subject.trim());
    if (since.trim()) q.set("since", since.trim());
    setParams(q);
  };

  return (
    <>
      <h1>Change events</h1>
      <p className="lead">
        Every change to an entry, oldest first: what search, caches and other systems follow. From an hour ago unless
        you give a time.
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
                {e.type && e.subject && e.kind !== "entry.deleted" ? (
                  <Link to={`/content/${e.type}/${e.subject}`}>
                    {e.type}/{e.subject}
                  </Link>
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
