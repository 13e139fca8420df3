// Keyboard shortcuts, as ChatGPT and other chat apps have them, on keys browsers leave to pages.
// Which keys do what is written once, in web/components/shortcuts_dialog.py (SHORTCUTS): the
// help sheet shows it, and its trigger carries it here (`data-shortcuts`: command, mod, shift,
// key). This script keeps what each command does (COMMANDS) and how a key is recognised.
// Each one presses or focuses a control the page already has, found by its accessible name
// (docs/ui-contract.md), so a shortcut does exactly what that control does: the state
// handlers stay the one place that acts. A shortcut whose control is not on the page does
// nothing and leaves the key to the browser.
//
// The chords work while typing (they type nothing: ⌘ on macOS, where Ctrl+K is a text
// field's "delete to the end of the line"); plain Esc does not, since fields use it (the
// search box empties itself). Nothing fires during IME composition, nor while a dialog or a
// menu is open: those have the keyboard, and Esc closes them, not the reply.
(() => {
  const platform = (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || "";
  const MAC = /mac|iphone|ipad/i.test(platform);
  // The help sheet shows ⌘ and ⇧ on macOS and Ctrl and Shift elsewhere (taskpilot.css).
  document.documentElement.dataset.keys = MAC ? "mac" : "other";

  const COMPOSER = "composer"; // web/states/chat.py COMPOSER_ID
  const HELP_TRIGGER = "shortcuts-open"; // web/components/shortcuts_dialog.py
  const RETURN_MARK = "data-shortcuts-return";

  const button = (name) => document.querySelector(`button[aria-label="${name}"]`);
  const shown = (element) =>
    !!element &&
    (element.checkVisibility
      ? element.checkVisibility({ visibilityProperty: true })
      : element.getClientRects().length > 0);
  // One that is closing (Radix keeps it a moment, `data-state="closed"`) no longer counts.
  const layerOpen = () =>
    document.querySelector(
      ["dialog", "alertdialog", "menu", "listbox"]
        .map((role) => `[role="${role}"]:not([data-state="closed"])`)
        .join(", "),
    ) !== null;
  const isField = (element) =>
    element instanceof HTMLElement && (element.isContentEditable || element.matches("input, textarea, select"));
  // A drawer (narrow screens) closes on Escape pressed inside it (drawer_focus.py).
  const inOpenDrawer = (element) => {
    const panel = element instanceof Element ? element.closest(".tp-history, .tp-tasks") : null;
    return !!panel && shown(panel.querySelector(".tp-drawer-close"));
  };

  const press = (name) => {
    const control = button(name);
    if (!control || control.disabled) return false;
    control.click();
    return true;
  };

  const focusComposer = () => {
    const box = document.getElementById(COMPOSER);
    if (!box || box.disabled) return false;
    for (const close of document.querySelectorAll(".tp-drawer-close")) {
      if (shown(close)) close.click();
    }
    box.focus();
    return true;
  };

  // The history may be hidden (toggled away, or a closed drawer): open it, then focus the box
  // once it is drawn (the toggle is a state update, a round trip away).
  const focusSearch = () => {
    const find = () => document.querySelector('input[aria-label="Search chats"]');
    if (!find()) return false;
    if (!shown(find()) && !press("Toggle history")) return false;
    const started = performance.now();
    const focus = () => {
      const box = find();
      if (box && shown(box)) {
        box.focus();
        box.select();
      } else if (performance.now() - started < 3000) {
        requestAnimationFrame(focus);
      }
    };
    focus();
    return true;
  };

  const openHelp = () => {
    const trigger = document.getElementById(HELP_TRIGGER);
    if (!trigger) return false;
    // Closing the sheet puts focus back here (its onCloseAutoFocus reads the mark).
    const from = document.activeElement;
    if (from instanceof HTMLElement && from !== document.body) from.setAttribute(RETURN_MARK, "");
    trigger.click();
    return true;
  };

  // What each command of the sheet's table does; false: nothing (the key is left alone).
  const COMMANDS = {
    "new-chat": () => press("New chat"),
    "focus-composer": () => focusComposer(),
    search: () => focusSearch(),
    // Plain Esc: fields use it (the search box empties itself), and so do open drawers.
    stop: (event) => !isField(event.target) && !inOpenDrawer(event.target) && press("Stop"),
    help: () => openHelp(),
  };

  const table = () => {
    try {
      return JSON.parse(document.getElementById(HELP_TRIGGER)?.dataset.shortcuts || "[]");
    } catch {
      return [];
    }
  };

  const letter = (event) => {
    const key = event.key.toLowerCase();
    if (key.length === 1 && key >= "a" && key <= "z") return key;
    return event.code.startsWith("Key") ? event.code.slice(3).toLowerCase() : key; // other layouts
  };

  // Whether `event` is the shortcut's key: "Esc", "/" (typed with Shift on some layouts, so
  // Shift does not count when the key itself is "/"), or a letter on any layout.
  const pressed = (shortcut, event) => {
    if (shortcut.key === "Esc") return event.key === "Escape" && event.shiftKey === shortcut.shift;
    if (shortcut.key === "/") return event.key === "/" || (event.code === "Slash" && !event.shiftKey);
    return letter(event) === shortcut.key.toLowerCase() && event.shiftKey === shortcut.shift;
  };

  const act = (event) => {
    const mod = MAC ? event.metaKey && !event.ctrlKey : event.ctrlKey && !event.metaKey;
    if (!mod && (event.metaKey || event.ctrlKey)) return false;
    const shortcut = table().find((s) => s.mod === mod && pressed(s, event));
    const command = shortcut && COMMANDS[shortcut.command];
    return command ? command(event) : false;
  };

  // Capture on the window: decide before any dialog, menu or field reacts to the key.
  window.addEventListener(
    "keydown",
    (event) => {
      if (event.isComposing || event.keyCode === 229 || event.repeat || event.altKey) return;
      if (layerOpen()) return;
      if (act(event)) {
        event.preventDefault();
        event.stopPropagation();
      }
    },
    { capture: true },
  );
})();
