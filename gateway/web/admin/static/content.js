// The draft editor (gateway/web/admin/content.py): a problem in the list leads to its line in the file.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a[data-line]") : null;
  if (!link) return;
  const area = document.getElementById(link.getAttribute("href").slice(1));
  if (!(area instanceof HTMLTextAreaElement)) return;
  event.preventDefault();
  const lines = area.value.split("\n");
  const line = Math.min(Math.max(Number(link.dataset.line) || 1, 1), lines.length);
  const start = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start + lines[line - 1].length);
  const height = parseFloat(getComputedStyle(area).lineHeight) || 18;
  area.scrollTop = Math.max((line - 4) * height, 0);
  area.scrollIntoView({ block: "nearest" });
});
