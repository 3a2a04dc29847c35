// Draws every element of class "chart" from the plotly figure in its data-figure attribute.
"use strict";

// Draws the charts not drawn yet: those of the first load, and those a live refresh
// brings in (jobs.js calls it again).
window.drawCharts = function drawCharts() {
  for (const element of document.querySelectorAll(".chart[data-figure]:not([data-rendered])")) {
    const figure = JSON.parse(element.dataset.figure);
    element.dataset.rendered = "drawing";
    Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false })
      .then(() => { element.dataset.rendered = "true"; });
  }
};

document.addEventListener("DOMContentLoaded", () => window.drawCharts());
