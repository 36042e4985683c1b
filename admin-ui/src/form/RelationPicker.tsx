// A relation field: the chosen entries by title (reorderable when many), and a search box
// listing entries of the target type as the editor types (a combobox: arrows, Enter, Escape).

import { useEffect, useId, useMemo, useState } from "react";
import type { AdminEntry, Client, ContentTypeSummary, EntryPage } from "../api/client";
import { cellText } from "../text";

/** An entry's title in lists and pickers: its type's title field, else its id. */
export function entryTitle(entry: AdminEntry | undefined, t: ContentTypeSummary | undefined, id: string): string {
  const field = t?.admin.title_field;
  if (!entry || !field) return id;
  return cellText(entry.fields[field], t?.locales[0]) || id;
}

export function RelationPicker({
  id,
  label,
  client,
  target,
  types,
  many,
  max,
  value,
  disabled,
  describedBy,
  onChange,
}: {
  id: string;
  label: string;
  client: Client;
  target: string;
  /** The content types, for the target's title field. */
  types: ContentTypeSummary[];
  many: boolean;
  max?: number;
  value: unknown;
  disabled: boolean;
  describedBy?: string;
  onChange: (v: unknown) => void;
}) {
  const t = types.find((x) => x.id === target);
  const ids = useMemo(
    () =>
      many ? (Array.isArray(value) ? (value as string[]) : []) : typeof value === "string" && value ? [value] : [],
    [many, value],
  );
  const [known, setKnown] = useState<Record<string, AdminEntry>>({});
  const [query, setQuery] = useState("");
  const [options, setOptions] = useState<AdminEntry[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const listId = useId();

  // Titles of the chosen entries, in one request.
  const missing = ids.filter((x) => !known[x]);
  const missingKey = missing.join(",");
  useEffect(() => {
    if (!missingKey) return;
    let live = true;
    client
      .get<EntryPage>(
        `/content/${encodeURIComponent(target)}?filter[id][in]=${encodeURIComponent(missingKey)}&limit=100`,
      )
      .then((page) => {
        if (!live) return;
        setKnown((k) => ({ ...k, ...Object.fromEntries(page.data.map((e) => [e.id, e])) }));
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [client, target, missingKey]);

  // Entries matching what is typed (by the title field), or the latest ones.
  useEffect(() => {
    if (!open) return;
    let live = true;
    const field = t?.admin.title_field;
    const q = query.trim();
    const filter = q && field ? `&filter[${encodeURIComponent(field)}][contains]=${encodeURIComponent(q)}` : "";
    const timer = setTimeout(() => {
      client
        .get<EntryPage>(`/content/${encodeURIComponent(target)}?limit=10&sort=-updated_at${filter}`)
        .then((page) => {
          if (!live) return;
          setOptions(page.data);
          setActive(0);
          setError(null);
          setKnown((k) => ({ ...k, ...Object.fromEntries(page.data.map((e) => [e.id, e])) }));
        })
        .catch((e: unknown) => live && setError(e instanceof Error ? e.message : "Search failed"));
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [client, target, t, query, open]);

  const choose = (entry: AdminEntry) => {
    if (many) {
      if (!ids.includes(entry.id)) onChange([...ids, entry.id]);
    } else {
      onChange(entry.id);
    }
    setQuery("");
    setOpen(false);
  };
  const remove = (x: string) => onChange(many ? ids.filter((y) => y !== x) : null);
  const move = (from: number, to: number) => {
    const next = [...ids];
    const [item] = next.splice(from, 1);
    if (item) next.splice(to, 0, item);
    onChange(next);
  };
  const full = many && max !== undefined && ids.length >= max;
  const choices = options.filter((o) => !ids.includes(o.id));
  const title = (x: string) => entryTitle(known[x], t, x);

  return (
    <div className="picker">
      {ids.length ? (
        <ul className="chosen" aria-label={`${label}: chosen`}>
          {ids.map((x, i) => (
            <li key={x}>
              <span>{title(x)}</span>
              {many && ids.length > 1 ? (
                <>
                  <button
                    type="button"
                    className="link"
                    disabled={disabled || i === 0}
                    aria-label={`Move ${title(x)} up`}
                    onClick={() => move(i, i - 1)}
                  >
                    ↑
                  </button>
                  <button
                    type="button"
                    className="link"
                    disabled={disabled || i === ids.length - 1}
                    aria-label={`Move ${title(x)} down`}
                    onClick={() => move(i, i + 1)}
                  >
                    ↓
                  </button>
                </>
              ) : null}
              <button
                type="button"
                className="link"
                disabled={disabled}
                aria-label={`Remove ${title(x)}`}
                onClick={() => remove(x)}
              >
                ✕
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      {!full ? (
        <div className="combo">
          <input
            id={id}
            type="search"
            role="combobox"
            autoComplete="off"
            aria-expanded={open}
            aria-controls={listId}
            aria-autocomplete="list"
            aria-describedby={describedBy}
            aria-activedescendant={open && choices[active] ? `${listId}-${choices[active].id}` : undefined}
            disabled={disabled}
            placeholder={`Search ${t?.name ?? target}…`}
            value={query}
            onFocus={() => setOpen(true)}
            onBlur={() => setTimeout(() => setOpen(false), 150)}
            onChange={(e) => {
              setQuery(e.target.value);
              setOpen(true);
            }}
            onKeyDown={(e) => {
              if (e.key === "ArrowDown") {
                e.preventDefault();
                setOpen(true);
                setActive((a) => Math.min(a + 1, Math.max(choices.length - 1, 0)));
              } else if (e.key === "ArrowUp") {
                e.preventDefault();
                setActive((a) => Math.max(a - 1, 0));
              } else if (e.key === "Enter" && open && choices[active]) {
                e.preventDefault();
                choose(choices[active]);
              } else if (e.key === "Escape") {
                setOpen(false);
              }
            }}
          />
          {open ? (
            <ul id={listId} role="listbox" className="options" aria-label={`${label}: matching entries`}>
              {error ? <li className="muted">{error}</li> : null}
              {!error && choices.length === 0 ? <li className="muted">No matching entries</li> : null}
              {choices.map((o, i) => (
                <li
                  key={o.id}
                  id={`${listId}-${o.id}`}
                  role="option"
                  aria-selected={i === active}
                  className={i === active ? "active" : undefined}
                  onMouseDown={(e) => {
                    e.preventDefault();
                    choose(o);
                  }}
                >
                  {entryTitle(o, t, o.id)}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : (
        <p className="muted">At most {max}.</p>
      )}
    </div>
  );
}
