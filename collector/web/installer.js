// "Measure now" on the installer's home page: ask, then poll until the gateway answers.
(function () {
  "use strict";
  var button = document.getElementById("measure-now");
  if (!button) return;
  var status = document.getElementById("measure-status");
  var result = document.getElementById("measure-result");
  var hidden = document.getElementById("install-command");

  function say(text) { status.textContent = text; }

  function poll(id, started) {
    fetch("/api/v1/installer/commands/" + encodeURIComponent(id), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (c) {
        var waited = Math.round((Date.now() - started) / 1000);
        if (c.state === "done") {
          result.innerHTML = c.html; // rendered and escaped by the server
          if (hidden) hidden.value = c.command_id;
          say("Measured " + waited + " s after the press.");
          button.disabled = false;
        } else if (c.state === "sent") {
          say("Waiting for the gateway… " + waited + " s");
          setTimeout(function () { poll(id, started); }, 1000);
        } else {
          say(c.state === "expired" ? "The gateway did not answer in time." : "The gateway could not measure: " + (c.error || c.state));
          button.disabled = false;
        }
      })
      .catch(function () { setTimeout(function () { poll(id, started); }, 2000); });
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    say("Asking the gateway…");
    var started = Date.now();
    var token = document.querySelector("meta[name=csrf-token]");
    var headers = token ? { "X-CSRF-Token": token.content } : {};
    fetch("/api/v1/installer/homes/" + encodeURIComponent(button.dataset.gateway) + "/measure", {
      method: "POST", credentials: "same-origin", headers: headers
    })
      .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
      .then(function (r) {
        if (r.status === 202) { poll(r.body.command_id, started); return; }
        say(r.body.reason === "offline" ? "The gateway is offline: " + r.body.detail : "Cannot measure: " + r.body.detail);
        button.disabled = false;
      })
      .catch(function () { say("The collector did not answer."); button.disabled = false; });
  });
})();
