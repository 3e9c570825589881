// The counter: a receipt's print button.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
