/* The instance page's diagram: the BPMN of the instance's definition version drawn with the
   vendored bpmn-js viewer (window.BpmnJS), its done, current and failed elements marked with
   the ids the server put in #diagram-marks. Without JavaScript the page still shows the data
   and the timeline; if the diagram cannot be drawn, a message says so. */
(function () {
  "use strict";

  var MARKERS = { done: "state-done", current: "state-current", failed: "state-failed" };
  // Below this scale a fitted diagram is too small to read (a phone, a wide process): it opens
  // at READABLE around the step that matters instead; the buttons switch views, dragging pans.
  var SMALLEST = 0.45, READABLE = 0.8;

  function fail(box, error) {
    box.classList.add("failed");
    var message = document.querySelector(".diagram-error");
    if (message) { message.hidden = false; }
    if (window.console) { console.error("diagram:", error); }
  }

  function mark(viewer, marks) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    Object.keys(MARKERS).forEach(function (kind) {
      (marks[kind] || []).forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, MARKERS[kind]); }
      });
    });
  }

  function focusOn(canvas, element) {
    var outer = canvas.viewbox().outer;
    var width = outer.width / READABLE, height = outer.height / READABLE;
    canvas.viewbox({
      x: element.x + element.width / 2 - width / 2,
      y: element.y + element.height / 2 - height / 2,
      width: width,
      height: height
    });
  }

  function views(viewer, marks) {
    var canvas = viewer.get("canvas");
    var ids = (marks.failed || []).concat(marks.current || []);
    var step = ids.length ? viewer.get("elementRegistry").get(ids[0]) : null;
    var show = {
      fit: function () { canvas.zoom("fit-viewport", "auto"); },
      focus: function () { if (step) { focusOn(canvas, step); } }
    };
    show.fit();
    if (step && canvas.zoom() < SMALLEST) { show.focus(); }
    var tools = document.querySelector(".diagram-tools");
    if (!tools) { return; }
    tools.querySelectorAll("[data-diagram-view]").forEach(function (button) {
      var view = button.getAttribute("data-diagram-view");
      button.hidden = view === "focus" && !step;
      button.addEventListener("click", show[view]);
    });
    tools.hidden = false;
  }

  function draw(box) {
    var marksTag = document.getElementById("diagram-marks");
    var marks = marksTag ? JSON.parse(marksTag.textContent) : {};
    var viewer = new window.BpmnJS({ container: box });
    fetch(box.getAttribute("data-xml-url"), {
      credentials: "same-origin", headers: { Accept: "application/xml" }
    })
      .then(function (reply) {
        if (!reply.ok) { throw new Error("HTTP " + reply.status); }
        return reply.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        mark(viewer, marks);
        views(viewer, marks);
        box.classList.add("ready");
      })
      .catch(function (error) { fail(box, error); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("diagram");
    if (!box) { return; }
    if (!window.BpmnJS || !window.fetch) { fail(box, "the viewer did not load"); return; }
    draw(box);
  });
})();
