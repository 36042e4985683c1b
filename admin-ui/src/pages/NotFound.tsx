import { Link } from "react-router-dom";

export default function NotFound() {
  return (
    <>
      <h1>Not found</h1>
      <p>
        There is no page here. <Link to="/">Back to the content</Link>
      </p>
    </>
  );
}
