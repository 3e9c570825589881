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
  const message = event.submitter?.dataset.confirm || event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
