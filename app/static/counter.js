// The card office's print buttons: a counter receipt's, a merchant settlement statement's.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
