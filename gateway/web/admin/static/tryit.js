// The test-call panel: Enter in the speech or the wait field presses its own button (say, wait)
// rather than the form's first one (call again). Loaded from our origin only (strict CSP).
document.addEventListener("keydown", (event) => {
  const field = event.target;
  if (event.key !== "Enter" || !(field instanceof HTMLInputElement) || !field.dataset.enter) {
    return;
  }
  const button = document.getElementById(field.dataset.enter);
  if (button && !button.disabled) {
    event.preventDefault();
    button.click();
  }
});
