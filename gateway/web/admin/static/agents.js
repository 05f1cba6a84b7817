// The agents' page: a button with data-copy="<input id>" copies that field (the card link) to the
// clipboard, and says so; selecting the field by hand works everywhere else.
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!(field instanceof HTMLInputElement)) return;
  field.select();
  if (navigator.clipboard) {
    navigator.clipboard.writeText(field.value).then(() => {
      button.textContent = button.dataset.copied || button.textContent;
    });
  }
});
