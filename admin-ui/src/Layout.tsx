import { NavLink, Outlet } from "react-router-dom";
import type { TypeList } from "./api/client";
import { useLoad } from "./api/load";
import { useSession } from "./session";
import { ErrorMessage } from "./ui";

/** The frame of every signed-in page: content types in a sidebar, the user and sign-out. */
export function Layout() {
  const { client, user, signOut } = useSession();
  const { data: types, error } = useLoad(() => client.get<TypeList>("/types").then((t) => t.data), [client]);

  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <nav className="sidebar" aria-label="Main">
        <NavLink to="/" className="brand" end>
          Folio
        </NavLink>
        <h2>Content</h2>
        <ErrorMessage error={error} />
        <ul>
          {types
            ?.filter((t) => t.permissions.actions.includes("read"))
            .map((t) => (
              <li key={t.id}>
                <NavLink to={`/content/${t.id}`}>{t.name}</NavLink>
              </li>
            ))}
        </ul>
        {user?.permissions?.media.includes("read") ? (
          <>
            <h2>Assets</h2>
            <ul>
              <li>
                <NavLink to="/media">Media library</NavLink>
              </li>
            </ul>
          </>
        ) : null}
        {user?.permissions?.administer ? (
          <>
            <h2>Administration</h2>
            <ul>
              <li>
                <NavLink to="/settings/users">Users</NavLink>
              </li>
              <li>
                <NavLink to="/settings/roles">Roles</NavLink>
              </li>
              <li>
                <NavLink to="/settings/tokens">API tokens</NavLink>
              </li>
              <li>
                <NavLink to="/settings/audit">Audit log</NavLink>
              </li>
              <li>
                <NavLink to="/settings/events">Change events</NavLink>
              </li>
            </ul>
          </>
        ) : null}
      </nav>
      <div className="page">
        <header className="topbar">
          <NavLink to="/profile" className="who">
            <span className="visually-hidden">Your profile: </span>
            {user?.name || user?.email} <span className="role">{user?.role}</span>
          </NavLink>
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
