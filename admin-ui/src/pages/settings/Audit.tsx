// `/settings/audit`: the audit log, newest first, filtered by actor, action (or its family)
// and target; the filters and the page live in the URL.

import { useRef, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router-dom";
import type { AuditRecord } from "../../api/client";
import { useGet } from "../../api/load";
import { dateTime, filterQuery, pickParams } from "../../text";
import { ErrorMessage, Loading, Table, TextField } from "../../ui";

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
              <td>{dateTime(r.at)}</td>
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
