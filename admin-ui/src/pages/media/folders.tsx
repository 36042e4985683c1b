// The library's folders: the tree to open one in, the buttons that ask to make, rename or
// delete one (the page runs the requests), and the dialog that names a folder.

import { useEffect, useRef, useState } from "react";
import type { MediaFolder } from "../../api/client";
import { ErrorMessage } from "../../ui";

/** `folder` is the open one: "" for all files, "root" for those in no folder, else an id. */
export function FolderNav({
  folders,
  folder,
  canEdit,
  onOpen,
  onAsk,
}: {
  folders: MediaFolder[];
  folder: string;
  canEdit: boolean;
  onOpen: (folder: string | null) => void;
  onAsk: (what: "new" | "rename" | "delete") => void;
}) {
  const current = folders.find((f) => f.id === folder);
  return (
    <nav className="folders" aria-label="Folders">
      <ul>
        <li>
          <button
            type="button"
            className={!folder ? "on" : ""}
            aria-current={!folder ? "true" : undefined}
            onClick={() => onOpen(null)}
          >
            All files
          </button>
        </li>
        <li>
          <button
            type="button"
            className={folder === "root" ? "on" : ""}
            aria-current={folder === "root" ? "true" : undefined}
            onClick={() => onOpen("root")}
          >
            Not in a folder
          </button>
        </li>
        <FolderTree folders={folders} parent={null} current={folder} onOpen={onOpen} />
      </ul>
      {canEdit ? (
        <div className="folder-actions">
          <button type="button" className="secondary small" onClick={() => onAsk("new")}>
            New folder
          </button>
          {current ? (
            <>
              <button type="button" className="secondary small" onClick={() => onAsk("rename")}>
                Rename
              </button>
              <button type="button" className="danger small" onClick={() => onAsk("delete")}>
                Delete folder
              </button>
            </>
          ) : null}
        </div>
      ) : null}
    </nav>
  );
}

function FolderTree({
  folders,
  parent,
  current,
  onOpen,
}: {
  folders: MediaFolder[];
  parent: string | null;
  current: string;
  onOpen: (id: string) => void;
}) {
  const children = folders.filter((f) => (f.parent ?? null) === parent).sort((a, b) => a.name.localeCompare(b.name));
  return (
    <>
      {children.map((f) => (
        <li key={f.id}>
          <button
            type="button"
            className={current === f.id ? "on" : ""}
            aria-current={current === f.id ? "true" : undefined}
            onClick={() => onOpen(f.id)}
          >
            {f.name}
          </button>
          {folders.some((x) => x.parent === f.id) ? (
            <ul>
              <FolderTree folders={folders} parent={f.id} current={current} onOpen={onOpen} />
            </ul>
          ) : null}
        </li>
      ))}
    </>
  );
}

/** Asks for a folder's name; a failed `onSave` is shown in the dialog, which stays open. */
export function FolderNameDialog({
  title,
  initial,
  onSave,
  onCancel,
}: {
  title: string;
  initial: string;
  onSave: (name: string) => Promise<void>;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [name, setName] = useState(initial);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="folder-title" onClose={onCancel}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onSave(name.trim()).catch(setError);
        }}
      >
        <h2 id="folder-title">{title}</h2>
        <ErrorMessage error={error} />
        <label>
          Folder name
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} required autoFocus />
        </label>
        <div className="actions">
          <button type="submit" disabled={!name.trim()}>
            Save
          </button>
          <button type="button" className="secondary" onClick={() => ref.current?.close()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
