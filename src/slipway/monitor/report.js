// Draws each chart of a monitor report from the plotly figure in its data-figure attribute.
// The report runs no inline script: its page is served with a policy that forbids them.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  if (!window.Plotly) {
    return; // without plotly.js the tables still hold every number
  }
  for (const element of document.querySelectorAll(".chart[data-figure]")) {
    const figure = JSON.parse(element.dataset.figure);
    Plotly.newPlot(element, figure.data, figure.layout);
  }
});
