// A media field: the chosen items as thumbnails, files dropped on it (or picked) uploaded
// with progress, and the library to choose from. Uploads name the field (`?field=type.name`)
// so the server refuses a kind the field does not accept before storing anything.

import { useEffect, useId, useRef, useState, type DragEvent } from "react";
import { ApiError, type Client, type MediaItem, type MediaPage } from "../api/client";
import { useForm } from "./context";

/** A small preview URL for an item: a server-made thumbnail for images. */
export function thumbnailUrl(item: Pick<MediaItem, "url" | "mime">, size = 160): string | null {
  if (!item.url || !item.mime?.startsWith("image/") || item.mime === "image/svg+xml") return null;
  return `${item.url}?w=${size}&h=${size}&fit=cover`;
}

/** Whether a file's type is one of `accept` (`image/*`, `application/pdf`); empty accepts all. */
export function accepts(accept: string[], mime: string): boolean {
  if (!accept.length) return true;
  return accept.some((a) => (a.endsWith("/*") ? mime.startsWith(a.slice(0, -1)) : a === mime));
}

/** Uploads files, reporting the fraction sent; answers the stored items. */
export async function uploadFiles(
  client: Client,
  files: File[],
  opts: { field?: string; folder?: string | null },
  onProgress: (fraction: number) => void,
): Promise<MediaItem[]> {
  const form = new FormData();
  if (opts.folder) form.append("folder", opts.folder);
  for (const f of files) form.append("file", f, f.name);
  const query = opts.field ? `?field=${encodeURIComponent(opts.field)}` : "";
  const answer = await client.upload<{ data: MediaItem[] }>(`/media${query}`, form, onProgress);
  return answer.data;
}

export function MediaPicker({
  id,
  label,
  many,
  max,
  accept,
  field,
  value,
  disabled,
  describedBy,
  onChange,
}: {
  id: string;
  label: string;
  many: boolean;
  max?: number;
  accept: string[];
  field?: string;
  value: unknown;
  disabled: boolean;
  describedBy?: string;
  onChange: (v: unknown) => void;
}) {
  const { client } = useForm();
  const ids = many
    ? Array.isArray(value)
      ? (value as string[])
      : []
    : typeof value === "string" && value
      ? [value]
      : [];
  const [items, setItems] = useState<Record<string, MediaItem>>({});
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const [choosing, setChoosing] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const idsKey = ids.join(",");

  useEffect(() => {
    let live = true;
    for (const x of idsKey ? idsKey.split(",") : []) {
      if (items[x]) continue;
      client
        .get<{ data: MediaItem }>(`/media/${encodeURIComponent(x)}`)
        .then((r) => live && setItems((m) => ({ ...m, [x]: r.data })))
        .catch(() => undefined);
    }
    return () => {
      live = false;
    };
    // `items` only caches: a new id is what needs fetching.
  }, [client, idsKey]);

  const add = (chosen: MediaItem[]) => {
    setItems((m) => ({ ...m, ...Object.fromEntries(chosen.map((c) => [c.id ?? "", c])) }));
    if (many) {
      const next = [...ids];
      for (const c of chosen) if (c.id && !next.includes(c.id)) next.push(c.id);
      onChange(max !== undefined ? next.slice(0, max) : next);
    } else if (chosen[0]) {
      onChange(chosen[0].id);
    }
  };

  const upload = async (files: File[]) => {
    if (!files.length || disabled) return;
    const wrong = files.find((f) => f.type && !accepts(accept, f.type));
    if (wrong) {
      setError(`${wrong.name}: this field takes ${accept.join(", ")}.`);
      return;
    }
    setError(null);
    setProgress(0);
    try {
      add(await uploadFiles(client, many ? files : files.slice(0, 1), { field }, setProgress));
    } catch (e) {
      setError(e instanceof ApiError ? e.message : "The upload failed.");
    } finally {
      setProgress(null);
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    void upload(Array.from(e.dataTransfer.files));
  };

  const full = many && max !== undefined && ids.length >= max;
  return (
    <div
      className={`media-picker${dragging ? " dragging" : ""}`}
      onDragOver={(e) => {
        if (disabled) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      {ids.length ? (
        <ul className="thumbs" aria-label={`${label}: chosen`}>
          {ids.map((x) => {
            const item = items[x];
            const thumb = item ? thumbnailUrl(item) : null;
            return (
              <li key={x}>
                {thumb ? (
                  <img src={thumb} alt={typeof item?.alt === "string" ? item.alt : ""} width={80} height={80} />
                ) : (
                  <span className="file-icon" aria-hidden="true">
                    📄
                  </span>
                )}
                <span className="name">{item?.filename ?? x}</span>
                <button
                  type="button"
                  className="link"
                  disabled={disabled}
                  aria-label={`Remove ${item?.filename ?? x}`}
                  onClick={() => onChange(many ? ids.filter((y) => y !== x) : null)}
                >
                  ✕
                </button>
              </li>
            );
          })}
        </ul>
      ) : null}
      {!full ? (
        <div className="drop">
          <span className="muted">Drop {many ? "files" : "a file"} here, or</span>
          <input
            ref={input}
            id={id}
            type="file"
            className="visually-hidden"
            multiple={many}
            accept={accept.join(",") || undefined}
            disabled={disabled}
            aria-describedby={describedBy}
            onChange={(e) => {
              void upload(Array.from(e.target.files ?? []));
              e.target.value = "";
            }}
          />
          <button type="button" className="secondary" disabled={disabled} onClick={() => input.current?.click()}>
            Upload
          </button>
          <button type="button" className="secondary" disabled={disabled} onClick={() => setChoosing(true)}>
            Choose from library
          </button>
        </div>
      ) : null}
      {progress !== null ? (
        <progress max={1} value={progress} aria-label={`Uploading to ${label}`}>
          {Math.round(progress * 100)}%
        </progress>
      ) : null}
      {error ? (
        <span className="field-error" role="alert">
          {error}
        </span>
      ) : null}
      {choosing ? (
        <LibraryDialog
          accept={accept}
          many={many}
          onClose={() => setChoosing(false)}
          onChoose={(chosen) => {
            add(chosen);
            setChoosing(false);
          }}
        />
      ) : null}
    </div>
  );
}

/** The media library in a modal dialog, to pick existing items. */
function LibraryDialog({
  accept,
  many,
  onClose,
  onChoose,
}: {
  accept: string[];
  many: boolean;
  onClose: () => void;
  onChoose: (items: MediaItem[]) => void;
}) {
  const { client } = useForm();
  const dialog = useRef<HTMLDialogElement>(null);
  const [q, setQ] = useState("");
  const [page, setPage] = useState<MediaPage | undefined>(undefined);
  const [picked, setPicked] = useState<MediaItem[]>([]);
  const titleId = useId();
  const onlyImages = accept.length > 0 && accept.every((a) => a.startsWith("image/"));

  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      const params = new URLSearchParams({ limit: "24" });
      if (q.trim()) params.set("q", q.trim());
      if (onlyImages) params.set("type", "image");
      client
        .get<MediaPage>(`/media?${params}`)
        .then((p) => live && setPage(p))
        .catch(() => undefined);
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [client, q, onlyImages]);

  const items = (page?.data ?? []).filter((i) => accepts(accept, i.mime ?? ""));
  return (
    <dialog ref={dialog} className="dialog" aria-labelledby={titleId} onClose={onClose}>
      <h2 id={titleId}>Choose from the library</h2>
      <label>
        Search the library
        <input type="search" value={q} onChange={(e) => setQ(e.target.value)} autoFocus />
      </label>
      {!page ? <p className="muted">Loading…</p> : null}
      {page && items.length === 0 ? <p className="muted">Nothing matches.</p> : null}
      <ul className="grid">
        {items.map((item) => {
          const thumb = thumbnailUrl(item);
          const on = picked.some((p) => p.id === item.id);
          return (
            <li key={item.id}>
              <button
                type="button"
                className={`tile${on ? " on" : ""}`}
                aria-pressed={on}
                onClick={() => {
                  if (!many) {
                    onChoose([item]);
                    return;
                  }
                  setPicked((p) => (on ? p.filter((x) => x.id !== item.id) : [...p, item]));
                }}
              >
                {thumb ? (
                  <img src={thumb} alt="" width={120} height={120} loading="lazy" />
                ) : (
                  <span aria-hidden="true">📄</span>
                )}
                <span>{item.filename}</span>
              </button>
            </li>
          );
        })}
      </ul>
      <div className="actions">
        {many ? (
          <button type="button" disabled={!picked.length} onClick={() => onChoose(picked)}>
            Add {picked.length || ""} selected
          </button>
        ) : null}
        <button type="button" className="secondary" onClick={() => dialog.current?.close()}>
          Cancel
        </button>
      </div>
    </dialog>
  );
}
