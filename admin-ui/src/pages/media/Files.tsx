// The files of the open folder: search and a kind filter, the grid or the list of one page of
// items, and the pager. What is asked lives in the URL; the page loads it and passes it here.

import { useState } from "react";
import type { MediaItem, MediaPage } from "../../api/client";
import { thumbnailUrl } from "../../form/MediaPicker";
import { fileSize } from "../../text";
import { Loading, Pager, SelectField, Table } from "../../ui";

export const PAGE_SIZE = 36;

export function Files({
  items,
  failed,
  q,
  kind,
  view,
  page,
  onAsk,
  onOpen,
}: {
  /** Undefined while it loads. */
  items: MediaPage | undefined;
  /** Whether loading them failed (the page shows why). */
  failed: boolean;
  q: string;
  kind: string;
  view: "grid" | "list";
  page: number;
  /** Changes what the URL asks for (null or "" drops a parameter). */
  onAsk: (changes: Record<string, string | null>) => void;
  onOpen: (item: MediaItem) => void;
}) {
  const [searchText, setSearchText] = useState(q);
  const list = items?.data ?? [];
  const total = items?.meta?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));

  return (
    <section className="library-main" aria-label="Files">
      <form
        className="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          onAsk({ q: searchText.trim() || null });
        }}
      >
        <label className="grow">
          Search files
          <input type="search" value={searchText} onChange={(e) => setSearchText(e.target.value)} />
        </label>
        <SelectField label="Kind" value={kind} onChange={(e) => onAsk({ type: e.target.value || null })}>
          <option value="">Any</option>
          <option value="image">Images</option>
          <option value="video">Video</option>
          <option value="audio">Audio</option>
          <option value="application/pdf">PDF</option>
        </SelectField>
        <button type="submit">Search</button>
        <div className="views" role="group" aria-label="View">
          <button
            type="button"
            className="tool"
            aria-pressed={view === "grid"}
            onClick={() => onAsk({ view: null, page: String(page) })}
          >
            Grid
          </button>
          <button
            type="button"
            className="tool"
            aria-pressed={view === "list"}
            onClick={() => onAsk({ view: "list", page: String(page) })}
          >
            List
          </button>
        </div>
      </form>

      {!items && !failed ? <Loading /> : null}
      {items && list.length === 0 ? (
        <p className="muted">{q || kind ? "Nothing matches." : "No files here yet."}</p>
      ) : null}
      {items && view === "grid" ? <Grid items={list} onOpen={onOpen} /> : null}
      {items && view === "list" && list.length ? <List items={list} onOpen={onOpen} /> : null}
      {items && pages > 1 ? (
        <Pager page={page} pages={pages} summary={` · ${total} files`} onPage={(n) => onAsk({ page: String(n) })} />
      ) : null}
    </section>
  );
}

function Grid({ items, onOpen }: { items: MediaItem[]; onOpen: (item: MediaItem) => void }) {
  return (
    <ul className="media-grid">
      {items.map((item) => {
        const thumb = thumbnailUrl(item, 240);
        return (
          <li key={item.id}>
            <button type="button" className="tile" onClick={() => onOpen(item)} aria-label={`Open ${item.filename}`}>
              {thumb ? (
                <img src={thumb} alt="" width={160} height={160} loading="lazy" />
              ) : (
                <span className="file-kind" aria-hidden="true">
                  {item.mime?.split("/")[1]?.toUpperCase() ?? "FILE"}
                </span>
              )}
              <span>{item.filename}</span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}

function List({ items, onOpen }: { items: MediaItem[]; onOpen: (item: MediaItem) => void }) {
  return (
    <Table caption="Files" columns={["Name", "Kind", "Size", "Dimensions", "Uploaded"]}>
      {items.map((item) => (
        <tr key={item.id}>
          <td>
            <button type="button" className="link" onClick={() => onOpen(item)}>
              {item.filename}
            </button>
          </td>
          <td>{item.mime}</td>
          <td>{fileSize(item.size)}</td>
          <td>{item.width && item.height ? `${item.width}×${item.height}` : ""}</td>
          <td>{item.created_at ? new Date(item.created_at).toLocaleString() : ""}</td>
        </tr>
      ))}
    </Table>
  );
}
