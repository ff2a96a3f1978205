// The ticket page's print button: shown only where this script runs, since printing needs it.
const button = document.getElementById("print-ticket");
if (button) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
