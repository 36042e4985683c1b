import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createBrowserRouter, RouterProvider } from "react-router-dom";
import { App } from "./App";
import "./styles.css";

// A data router (for the editor's leave-with-unsaved-changes guard); the routes themselves
// are declared in `App`.
const router = createBrowserRouter([{ path: "*", element: <App /> }], { basename: "/admin" });

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <RouterProvider router={router} />
    </StrictMode>,
  );
}
