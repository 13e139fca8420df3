// A long chat shows its newest messages with "Show earlier messages" above them
// (web/components/message_list.py). When the person scrolls up to that button, it loads the
// page before by itself, as chat apps do; pressing it works too. Only a scroll the person
// made counts: the page's own scroll to the newest message on opening must not load the
// whole chat.
(() => {
  const BUTTON = '[data-testid="load-earlier"]';
  let scrolledAt = 0;
  for (const kind of ["wheel", "touchmove", "keydown"]) {
    window.addEventListener(kind, () => { scrolledAt = Date.now(); }, { passive: true });
  }
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting && Date.now() - scrolledAt < 2000) entry.target.click();
    }
  }, { rootMargin: "150px 0px 0px 0px" });
  const watched = new WeakSet();
  const watch = () => {
    for (const button of document.querySelectorAll(BUTTON)) {
      if (!watched.has(button)) {
        watched.add(button);
        observer.observe(button);
      }
    }
  };
  new MutationObserver(watch).observe(document.documentElement, { childList: true, subtree: true });
  watch();
})();
