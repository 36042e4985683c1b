import { Link, useOutletContext } from "react-router-dom";
import type { ContentTypeSummary } from "../api/client";
import { Loading } from "../ui";

export default function Home() {
  const { types } = useOutletContext<{ types?: ContentTypeSummary[] }>();
  if (!types) {
    return <Loading />;
  }
  return (
    <>
      <h1>Content</h1>
      <ul className="tiles">
        {types.map((t) => (
          <li key={t.id}>
            <Link to={`/content/${t.id}`}>
              <strong>{t.name}</strong>
              {t.description ? <span>{t.description}</span> : null}
            </Link>
          </li>
        ))}
      </ul>
    </>
  );
}
