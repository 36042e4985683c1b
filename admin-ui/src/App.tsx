import { lazy, Suspense } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router-dom";
import { SessionProvider, useSession } from "./session";
import { Layout } from "./Layout";
import { Loading } from "./ui";

// Each area is its own chunk: the sign-in page does not load the editor.
const Login = lazy(() => import("./pages/Login"));
const Setup = lazy(() => import("./pages/Setup"));
const Home = lazy(() => import("./pages/Home"));
const ContentList = lazy(() => import("./pages/ContentList"));
const EntryEdit = lazy(() => import("./pages/EntryEdit"));
const NotFound = lazy(() => import("./pages/NotFound"));
const MediaLibrary = lazy(() => import("./pages/media/MediaLibrary"));
const Profile = lazy(() => import("./pages/Profile"));
const ResetPassword = lazy(() => import("./pages/Recovery").then((m) => ({ default: m.ResetPassword })));
const VerifyEmail = lazy(() => import("./pages/Recovery").then((m) => ({ default: m.VerifyEmail })));
// Administration is one area, one chunk.
const Users = lazy(() => import("./pages/settings").then((m) => ({ default: m.Users })));
const Roles = lazy(() => import("./pages/settings").then((m) => ({ default: m.Roles })));
const Tokens = lazy(() => import("./pages/settings").then((m) => ({ default: m.Tokens })));
const Audit = lazy(() => import("./pages/settings").then((m) => ({ default: m.Audit })));
const Events = lazy(() => import("./pages/Events"));

export function App() {
  return (
    <SessionProvider>
      <Suspense fallback={<Loading />}>
        <Routes>
          <Route path="/login" element={<Login />} />
          <Route path="/setup" element={<Setup />} />
          <Route path="/reset-password" element={<ResetPassword />} />
          <Route path="/verify-email" element={<VerifyEmail />} />
          <Route
            element={
              <SignedIn>
                <Layout />
              </SignedIn>
            }
          >
            <Route index element={<Home />} />
            <Route path="content/:type" element={<ContentList />} />
            <Route path="content/:type/:id" element={<EntryEdit />} />
            <Route path="media" element={<MediaLibrary />} />
            <Route path="profile" element={<Profile />} />
            <Route path="settings/users" element={<Users />} />
            <Route path="settings/roles" element={<Roles />} />
            <Route path="settings/tokens" element={<Tokens />} />
            <Route path="settings/audit" element={<Audit />} />
            <Route path="settings/events" element={<Events />} />
            <Route path="*" element={<NotFound />} />
          </Route>
        </Routes>
      </Suspense>
    </SessionProvider>
  );
}

/** Pages for signed-in editors: others go to the sign-in page, and come back after. */
function SignedIn({ children }: { children: React.ReactNode }) {
  const { user } = useSession();
  const location = useLocation();
  if (user === undefined) {
    return <Loading />;
  }
  if (user === null) {
    const next = location.pathname + location.search;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <>{children}</>;
}
