// The live SMS segment counter of the text editors: under every <textarea data-segments>, the
// characters, the encoding (GSM-7 / UCS-2) and the segments of what is typed, with the characters
// that force UCS-2 marked. The count is the gateway's own (POST /admin/try/segments answers an HTML
// fragment): no second implementation of GSM-7 here. Loaded from our origin only (strict CSP).
(() => {
  "use strict";
  const script = document.currentScript;
  const defaultUrl = new URL("../try/segments", script ? script.src : window.location.href).href;
  const DELAY_MS = 300;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function attach(textarea, index) {
    if (textarea.dataset.segmentsAttached) {
      return;
    }
    textarea.dataset.segmentsAttached = "1";
    const output = document.createElement("div");
    output.className = "segment-counter";
    output.id = (textarea.id || "segments-" + index) + "-segments";
    output.setAttribute("aria-live", "polite");
    textarea.insertAdjacentElement("afterend", output);
    const described = textarea.getAttribute("aria-describedby");
    textarea.setAttribute("aria-describedby", (described ? described + " " : "") + output.id);
    const url = textarea.dataset.segmentsUrl || defaultUrl;
    let timer = null;
    let asked = 0;

    async function count() {
      const ticket = ++asked;
      const body = new FormData();
      body.append("text", textarea.value);
      if (textarea.dataset.locale) {
        body.append("locale", textarea.dataset.locale);  // an SMS template: counted as rendered
      }
      try {
        const response = await fetch(url, {
          method: "POST",
          body,
          credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
        });
        if (response.ok && ticket === asked) {
          output.innerHTML = await response.text();  // the server's fragment, escaped by Jinja
        }
      } catch (error) {
        // offline or signed out: the counter keeps its last answer
      }
    }

    textarea.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(count, DELAY_MS);
    });
    count();
  }

  function attachAll(root) {
    (root || document).querySelectorAll("textarea[data-segments]").forEach(attach);
  }

  document.addEventListener("DOMContentLoaded", () => attachAll(document));
  if (document.readyState !== "loading") {
    attachAll(document);
  }
  // Editors swapped in by htmx get their counters too.
  document.addEventListener("htmx:afterSettle", (event) => attachAll(event.target));
})();
