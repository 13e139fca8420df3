// OpenAI's ChatKit web component inside the Reflex page, through @openai/chatkit-react.
//
// `chatkit_embed.py` wraps this as a Reflex component: Python passes plain props (mode, URLs,
// the domain key, the signed-in user's token, theme, prompts…) and event handlers; this file
// turns them into ChatKit's options with `useChatKit`. It also loads ChatKit's script, which
// is not in any npm package (it comes from OpenAI's CDN, or wherever CHATKIT_SCRIPT_URL says),
// and reports when it cannot load so the page can say so instead of showing an empty box.
// The composer's @-mentions offer the person's tasks (from TaskPilot's tasks API), and a
// click on a task ChatKit shows (a mention, a reply's annotation) reaches the page.
import { useEffect, useRef, useState } from "react";
import { ChatKit, useChatKit } from "@openai/chatkit-react";
import env from "$/env.json";
import { getBackendURL } from "$/utils/state";

const ELEMENT = "openai-chatkit";
const SCRIPT_MARK = "data-taskpilot-chatkit";
// How long the script may take to define <openai-chatkit> before the page gives up on it.
const SCRIPT_TIMEOUT_MS = 15000;
// A client secret this close to expiry is replaced rather than reused.
const SECRET_MARGIN_S = 60;
// The client effect TaskPilot's ChatKit server sends when tasks changed (chatkit/stream.py).
const TASKS_CHANGED = "tasks_changed";
// How many tasks one @-mention search offers.
const TAG_SEARCH_LIMIT = 20;

/** A backend URL: the page's own origin in prod (one port), the backend's port in dev. */
function backendUrl(path) {
  return new URL(path, getBackendURL(env.UPLOAD)).toString();
}

/** "loading" until <openai-chatkit> is defined ("ready"), or "failed" if it never is. */
function useChatKitScript(src) {
  const [status, setStatus] = useState("loading");
  useEffect(() => {
    if (!src) return undefined; // the page has not said where the script is yet
    if (customElements.get(ELEMENT)) {
      setStatus("ready");
      return undefined;
    }
    let active = true;
    const fail = () => active && setStatus("failed");
    let script = document.querySelector(`script[${SCRIPT_MARK}]`);
    if (!script) {
      script = document.createElement("script");
      script.src = src;
      script.async = true;
      script.setAttribute(SCRIPT_MARK, "");
      script.addEventListener("error", () => script.setAttribute("data-failed", ""));
      document.head.appendChild(script);
    }
    if (script.hasAttribute("data-failed")) fail();
    script.addEventListener("error", fail);
    customElements.whenDefined(ELEMENT).then(() => active && setStatus("ready"));
    const timer = setTimeout(() => customElements.get(ELEMENT) || fail(), SCRIPT_TIMEOUT_MS);
    return () => {
      active = false;
      clearTimeout(timer);
      script.removeEventListener("error", fail);
    };
  }, [src]);
  return status;
}

/** The signed-in user's token, as every request to TaskPilot carries it. */
function authorization(props) {
  return { Authorization: `Bearer ${props.token}` };
}

/** A task as a ChatKit entity: its number travels as `data.task_id` (entities carry strings);
 * TaskPilot's ChatKit server turns a mentioned task into "task N" for the model. */
function taskEntity(task) {
  return {
    id: `task_${task.task_id}`,
    title: task.title,
    group: task.completed ? "Done" : "Tasks",
    icon: task.completed ? "check-circle" : "empty-circle",
    interactive: true,
    data: { task_id: String(task.task_id) },
  };
}

function entities(props) {
  return {
    // The person's tasks matching what follows "@" (open ones first); none if the API fails.
    onTagSearch: async (query) => {
      if (!props.tasksPath) return [];
      const params = new URLSearchParams({ limit: String(TAG_SEARCH_LIMIT) });
      const text = String(query ?? "").trim().slice(0, 200);
      if (text) params.set("search", text);
      const response = await fetch(backendUrl(`${props.tasksPath}?${params}`), {
        headers: authorization(props),
      }).catch(() => null);
      if (!response?.ok) return [];
      const body = await response.json().catch(() => ({}));
      const tasks = Array.isArray(body.tasks) ? body.tasks : [];
      return tasks
        .slice(0, TAG_SEARCH_LIMIT)
        .sort((a, b) => Number(a.completed) - Number(b.completed))
        .map(taskEntity);
    },
    onClick: (entity) => {
      const number = Number(entity?.data?.task_id);
      if (Number.isSafeInteger(number) && number > 0) props.onTaskClick?.(number);
    },
  };
}

/** The `type` of a ChatKit request body ("" when it is not one). */
function requestType(body) {
  if (typeof body !== "string") return "";
  try {
    return String(JSON.parse(body)?.type ?? "");
  } catch {
    return "";
  }
}

/** Why a TaskPilot endpoint said no, in its own words when it gave some. */
async function failure(response, fallback) {
  const body = await response.json().catch(() => ({}));
  return new Error(body.detail || `${fallback} (HTTP ${response.status}).`);
}

function api(props, secret) {
  const bearer = () => authorization(props);
  if (props.mode === "hosted") {
    return {
      // ChatKit asks again, passing the secret it holds, when that secret has expired.
      getClientSecret: async (current) => {
        const held = secret.current;
        const fresh = held && held.expires_at - SECRET_MARGIN_S > Date.now() / 1000;
        if (fresh && held.client_secret !== current) return held.client_secret;
        const response = await fetch(backendUrl(props.sessionPath), {
          method: "POST",
          headers: bearer(),
        });
        if (!response.ok) throw await failure(response, "TaskPilot could not start ChatKit");
        secret.current = await response.json();
        return secret.current.client_secret;
      },
    };
  }
  return {
    url: backendUrl(props.apiPath),
    domainKey: props.domainKey,
    // Every request to TaskPilot's ChatKit server carries the signed-in user's token.
    fetch: async (input, init = {}) => {
      const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : {}));
      headers.set("Authorization", bearer().Authorization);
      const response = await fetch(input, { ...init, headers });
      // A task widget's button answers without a stream, so no effect event says a task
      // changed: the page hears it as the same `tasks_changed` effect.
      if (response.ok && requestType(init.body) === "threads.sync_custom_action") {
        props.onEffect?.(TASKS_CHANGED);
      }
      return response;
    },
  };
}

function options(props, secret) {
  return {
    api: api(props, secret),
    ...(props.locale ? { locale: props.locale } : {}),
    theme: { colorScheme: props.colorScheme === "dark" ? "dark" : "light", radius: "round" },
    initialThread: props.initialThread || null,
    frameTitle: "TaskPilot chat (ChatKit)",
    header: {
      enabled: true,
      title: props.headerTitle ? { enabled: true, text: props.headerTitle } : { enabled: true },
    },
    history: { enabled: props.showHistory !== false, showDelete: true, showRename: true },
    startScreen: { greeting: props.greeting, prompts: props.prompts ?? [] },
    composer: { placeholder: props.placeholder },
    ...(props.disclaimer ? { disclaimer: { text: props.disclaimer } } : {}),
    threadItemActions: { feedback: props.feedback !== false, retry: props.retry !== false },
    entities: entities(props),
    onReady: () => props.onReady?.(),
    onThreadChange: (detail) => props.onThreadChange?.(detail?.threadId ?? ""),
    onResponseStart: () => props.onResponseStart?.(),
    onResponseEnd: () => props.onResponseEnd?.(),
    onEffect: (detail) => props.onEffect?.(String(detail?.name ?? "")),
    onError: (detail) =>
      props.onError?.(String(detail?.error?.message ?? detail?.error ?? "ChatKit failed.")),
  };
}

function Embedded(props) {
  const secret = useRef(null);
  const { control } = useChatKit(options(props, secret));
  return <ChatKit control={control} className={props.className} style={props.style} />;
}

/** The ChatKit component once the page knows how to reach ChatKit and who is signed in. */
export function TaskPilotChatKit(props) {
  const status = useChatKitScript(props.scriptUrl);
  const { onUnavailable, scriptUrl } = props;
  useEffect(() => {
    if (status === "failed") onUnavailable?.(scriptUrl);
  }, [status, scriptUrl]);
  if (status === "failed" || !props.mode || !props.token) return null;
  return <Embedded {...props} />;
}
