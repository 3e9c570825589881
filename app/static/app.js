// Small progressive helpers; every page works without them.
document.addEventListener("click", (event) => {
  const add = event.target.closest("[data-add-row]");
  if (add) {  // a table field: copy its blank row template with the next index
    const box = add.closest("[data-rows]");
    const body = box.querySelector("tbody");
    const html = box.querySelector("template").innerHTML.replaceAll("__index__", body.rows.length);
    body.insertAdjacentHTML("beforeend", html);
  }
  const check = event.target.closest("[data-check-all]");
  if (check) {  // a "select all" box of a list
    document.querySelectorAll(`input[name="${check.dataset.checkAll}"]`)
      .forEach((box) => { box.checked = check.checked; });
  }
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  // A post form already on its way ignores a second submit (a double click would file
  // twice). The button stays enabled: a disabled one would not send its name and value.
  if (form.dataset.sending) {
    event.preventDefault();
    return;
  }
  const message = event.submitter?.dataset.confirm || form.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
    return;
  }
  const post = form.getAttribute("method")?.toLowerCase() === "post";
  const target = form.getAttribute("target");
  if (post && (!target || target === "_self") && !event.defaultPrevented) {
    form.dataset.sending = "1";
    form.setAttribute("aria-busy", "true");
  }
});
// Back or forward to a page kept in the browser's cache: its forms may be sent again.
window.addEventListener("pageshow", () => {
  document.querySelectorAll("form[data-sending]").forEach((form) => {
    delete form.dataset.sending;
    form.removeAttribute("aria-busy");
  });
});
