import { useEffect, useState } from "react";
import { NavLink, Outlet } from "react-router-dom";
import type { ContentTypeSummary, TypeList } from "./api/client";
import { useSession } from "./session";
import { ErrorMessage } from "./ui";

/** The frame of every signed-in page: content types in a sidebar, the user and sign-out. */
export function Layout() {
  const { client, user, signOut } = useSession();
  const [types, setTypes] = useState<ContentTypeSummary[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    client
      .get<TypeList>("/types")
      .then((t) => setTypes(t.data))
      .catch(setError);
  }, [client]);

  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <nav className="sidebar" aria-label="Content types">
        <NavLink to="/" className="brand" end>
          Folio
        </NavLink>
        <h2>Content</h2>
        <ErrorMessage error={error} />
        <ul>
          {types?.map((t) => (
            <li key={t.id}>
              <NavLink to={`/content/${t.id}`}>{t.name}</NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <div className="page">
        <header className="topbar">
          <span className="who">
            {user?.name || user?.email} <span className="role">{user?.role}</span>
          </span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </header>
        <main id="main" tabIndex={-1}>
          <Outlet context={{ types }} />
        </main>
      </div>
    </div>
  );
}
