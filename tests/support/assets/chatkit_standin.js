// A stand-in for ChatKit's web component (chatkit.js from OpenAI's CDN, unreachable here).
// The browser tests serve it in place of the real script. It defines <openai-chatkit>,
// records every `setOptions` call, and lets a test drive it through `window.__chatkit`:
//   options()            the latest options, functions named rather than dropped
//   request(body)        POST `body` (a ChatKit request) the way ChatKit does: to api.url
//                        with the wrapper's api.fetch; resolves to {status, body}
//   secret(current)      call api.getClientSecret(current) (hosted mode)
//   emit(name, detail)   dispatch a ChatKit event (e.g. "chatkit.thread.change")
//   effect(name, data)   fire a client effect the server sent, as ChatKit does
//                        ("chatkit.effect" with {name, data})
//   tagSearch(query)     call entities.onTagSearch(query) as the composer does after "@"
//   clickEntity(entity)  call entities.onClick(entity) as a click on a tag or annotation does
(() => {
  const state = { calls: 0, latest: null };
  const describe = (value) =>
    JSON.parse(
      JSON.stringify(value, (key, inner) =>
        typeof inner === "function" ? `[function ${key}]` : inner,
      ),
    );

  class StandInChatKit extends HTMLElement {
    setOptions(options) {
      state.calls += 1;
      state.latest = options;
      this.setAttribute("data-standin", "openai-chatkit");
      this.setAttribute("data-color-scheme", options?.theme?.colorScheme ?? "");
      this.textContent = `ChatKit stand-in (${options?.api?.url ? "self-hosted" : "hosted"})`;
      if (state.calls === 1) {
        queueMicrotask(() => this.dispatchEvent(new CustomEvent("chatkit.ready")));
      }
    }
  }

  window.__chatkit = {
    calls: () => state.calls,
    options: () => describe(state.latest),
    element: () => document.querySelector("openai-chatkit"),
    async request(body) {
      const api = state.latest.api;
      const response = await api.fetch(api.url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: await response.text() };
    },
    async secret(current) {
      try {
        return { secret: await state.latest.api.getClientSecret(current ?? null) };
      } catch (error) {
        return { error: String(error?.message ?? error) };
      }
    },
    async tagSearch(query) {
      return await state.latest.entities.onTagSearch(query);
    },
    clickEntity(entity) {
      state.latest.entities.onClick(entity);
    },
    emit(name, detail) {
      this.element().dispatchEvent(new CustomEvent(name, { detail }));
    },
    effect(name, data) {
      this.emit("chatkit.effect", { name, data: data ?? {} });
    },
  };

  customElements.define("openai-chatkit", StandInChatKit);
})();
