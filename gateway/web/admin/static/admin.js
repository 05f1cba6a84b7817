// The console's own behaviour, loaded from our origin only (the CSP allows no inline script).
// Forms with data-confirm ask before they post: publishing, rolling back, pausing offers.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
