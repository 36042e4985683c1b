// Who is signed in, and the API client every page uses. An expired session sends the editor
// to the sign-in page and, once signed in again, back to where they were.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useNavigate } from "react-router-dom";
import { Client, type Me, type User } from "./api/client";

interface Session {
  client: Client;
  /** `undefined` while loading, `null` when signed out. */
  user: User | null | undefined;
  setUser: (u: User | null) => void;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

/** Pages that work signed out (sign-in, first setup, links from mails). */
const PUBLIC_PAGES = ["/login", "/setup", "/reset-password", "/verify-email"];

export function SessionProvider({ children }: { children: ReactNode }) {
  const navigate = useNavigate();
  const [user, setUser] = useState<User | null | undefined>(undefined);

  const client = useMemo(
    () =>
      new Client({
        onUnauthenticated: () => {
          setUser(null);
          const current = window.location.pathname.replace(/^\/admin/, "") + window.location.search;
          // Pages for signed-out visitors: nothing to return to.
          if (!PUBLIC_PAGES.some((p) => current.startsWith(p))) {
            navigate(`/login?next=${encodeURIComponent(current || "/")}`, { replace: true });
          }
        },
      }),
    [navigate],
  );

  useEffect(() => {
    let live = true;
    // The sign-in page shows before this answers: a sign-in made meanwhile wins.
    const mark = client.sessionMark();
    client
      .get<Me>("/auth/me")
      .then((me) => live && !client.signedInSince(mark) && setUser(me.data))
      .catch(() => live && !client.signedInSince(mark) && setUser(null));
    return () => {
      live = false;
    };
    // Once per page load: a later expiry is noticed by the client itself.
  }, [client]);

  // The sign-in answer names the user; `/auth/me` adds what they may do.
  const adopt = useCallback(
    (u: User | null) => {
      setUser(u);
      if (u && !u.permissions) {
        client
          .get<Me>("/auth/me")
          .then((me) => setUser(me.data))
          .catch(() => undefined);
      }
    },
    [client],
  );

  const signOut = useCallback(async () => {
    await client.post("/auth/logout").catch(() => undefined);
    setUser(null);
    navigate("/login", { replace: true });
  }, [client, navigate]);

  return (
    <SessionContext.Provider value={{ client, user, setUser: adopt, signOut }}>{children}</SessionContext.Provider>
  );
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) {
    throw new Error("useSession outside SessionProvider");
  }
  return s;
}
