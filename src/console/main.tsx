import { render } from "hono/jsx/dom";
import { App } from "./app";
import { resume } from "./session";

render(<App />, document.getElementById("app")!);
resume().catch(() => {});
