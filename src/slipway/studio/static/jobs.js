// A running job's page follows the job: new log lines and status changes arrive as
// server-sent events (see studio/jobs.py) and are applied without reloading the page.
"use strict";

function showStatus(state) {
  const status = document.getElementById("job-status");
  status.textContent = state.status;
  status.className = `status-${state.status}`;
  document.getElementById("secondary-status").textContent = state.secondary;
}

// The parts of the page marked data-refresh (history, metrics, leaderboard) are
// re-rendered by the server when the job's state changes. Refreshes run one after the
// other; a refresh asked for while one waits to start is that one.
async function refreshParts() {
  const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
  if (!response.ok) {
    return;
  }
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const element of document.querySelectorAll("[data-refresh]")) {
    const replacement = fresh.getElementById(element.id);
    if (replacement) {
      element.replaceWith(document.adoptNode(replacement));
    }
  }
  window.drawCharts();
}
let refreshes = Promise.resolve();
let waiting = false;
function refresh() {
  if (!waiting) {
    waiting = true;
    refreshes = refreshes.then(() => {
      waiting = false;
      return refreshParts();
    });
  }
  return refreshes;
}

document.addEventListener("DOMContentLoaded", () => {
  const logs = document.getElementById("logs");
  if (!logs) {
    return;
  }
  logs.scrollTop = logs.scrollHeight; // the last lines are the ones people look for
  if (!logs.dataset.stream) {
    return;
  }
  const source = new EventSource(logs.dataset.stream);
  let first = true;
  source.addEventListener("log", (event) => {
    // Keep following the end only when the reader is there already.
    const atEnd = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
    logs.append(`${JSON.parse(event.data)}\n`);
    document.getElementById("no-logs")?.remove();
    if (atEnd) {
      logs.scrollTop = logs.scrollHeight;
    }
  });
  source.addEventListener("status", (event) => {
    const state = JSON.parse(event.data);
    showStatus(state);
    if (state.status === "Stopping") {
      document.querySelector("#stop-form button")?.setAttribute("disabled", "");
    }
    // The first state is the one the page was rendered with.
    if (!first) {
      refresh();
    }
    first = false;
  });
  source.addEventListener("end", async (event) => {
    // Closed here, or the browser would reconnect to a stream that has nothing more.
    source.close();
    const state = JSON.parse(event.data);
    if (state.status) {
      showStatus(state);
    }
    document.getElementById("stop-form")?.remove();
    const noLogs = document.getElementById("no-logs");
    if (noLogs) {
      noLogs.textContent = "No log lines.";
    }
    await refresh();
    logs.dataset.ended = "true";
  });
});
