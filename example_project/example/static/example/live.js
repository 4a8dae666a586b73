// The live page's client: one WebSocket for notifications, GraphQL over HTTP for
// everything else, as an application of this package would do it. The socket speaks
// the 2018 protocol (subscribe over HTTP with its channel_id) or, on the modern
// engine, graphql-transport-ws (subscriptions are operations on the socket, and each
// resumes after the last cursor it heard).
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("gds-config").textContent);
  const streams = new Map(config.streams.map((entry) => [entry.stream, entry]));
  const $ = (selector, root) => (root || document).querySelector(selector);

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(className, text, onClick) {
    const node = element("button", className, text);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  // ---- GraphQL over HTTP ------------------------------------------------------------

  // Literals rather than variables: the example's input type names are an
  // implementation detail of graphene-django-extras. JSON strings are valid GraphQL strings.
  function literal(value) {
    if (Array.isArray(value)) return "[" + value.map(literal).join(", ") + "]";
    if (value && typeof value === "object") {
      return "{" + Object.entries(value).map(([k, v]) => k + ": " + literal(v)).join(", ") + "}";
    }
    return JSON.stringify(value);
  }

  // Django's CSRF token, which the page's view put in a cookie.
  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // POST a document; always resolves, with the reply or a GraphQL-shaped error.
  async function graphql(query) {
    let response, text;
    try {
      response = await fetch(config.graphql, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ query: query }),
      });
      // The connection can also drop while the body is on its way.
      text = await response.text();
    } catch (error) {
      return { errors: [{ message: "The server did not answer (" + error.message + ")." }], unanswered: true };
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      return { errors: [{ message: "HTTP " + response.status + ": " + text.slice(0, 200) }] };
    }
  }

  function graphqlError(reply) {
    return (reply.errors || []).map((error) => error.message).join("; ");
  }

  // ---- The frame log ----------------------------------------------------------------

  const frames = $("#frames");
  const MAX_LOG_ENTRIES = 300;

  function classify(frame) {
    if (frame.connect === "success") return ["connect", "connected: this socket's channel_id"];
    if ("operation" in frame && "ok" in frame && !("payload" in frame)) {
      const done = frame.operation === "subscribe" ? "subscribed to " : "unsubscribed from ";
      const what = frame.stream + ": " + done + actionLabel(frame.action.toUpperCase());
      return frame.ok ? ["confirmation", what] : ["error", what + " refused: " + frame.error];
    }
    const payload = frame.payload || {};
    if ("model" in payload) {
      const pk = payload.data && payload.data.id !== undefined ? " #" + payload.data.id : "";
      const moved = { entered: " (entered the filter)", left: " (left the filter)" }[payload.cause] || "";
      return ["notification", frame.stream + ": " + payload.action + " " + payload.model + pk + moved];
    }
    if (payload.errors && payload.errors.length) return ["error", payload.errors.join("; ")];
    return ["reply", (frame.stream || "socket") + " reply to " + payload.action];
  }

  // One log entry. ``frame``, when given, is kept whole in data-frame for tools and tests.
  function log(kind, summary, text, frame) {
    const item = element("li", "frame");
    item.dataset.kind = kind;
    const head = element("div", "frame-head");
    const badge = element("span", "badge", kind);
    badge.dataset.kind = kind;
    head.append(element("time", "", new Date().toLocaleTimeString()), badge, element("span", "summary", summary));
    item.append(head);
    if (text) item.append(element("pre", "", text));
    if (frame !== undefined) item.dataset.frame = JSON.stringify(frame);
    frames.prepend(item);
    // A page left open for hours should not grow without bound.
    while (frames.childElementCount > MAX_LOG_ENTRIES) frames.lastElementChild.remove();
    return item;
  }

  function logFrame(kind, summary, frame) {
    log(kind, summary, JSON.stringify(frame, null, 2), frame);
  }

  // An HTTP exchange: the GraphQL document sent, then the reply.
  function logRequest(summary, query, reply, failed) {
    const answer = reply.unanswered ? "no reply: " + graphqlError(reply) : JSON.stringify(reply);
    log(failed ? "error" : "http", summary, "POST " + config.graphql + "\n" + query + "\n\u2192 " + answer);
  }

  $("#clear-log").addEventListener("click", () => frames.replaceChildren());

  // ---- Subscriptions this page holds ------------------------------------------------

  // The server keeps one subscription per socket, stream, object and concrete action,
  // and a later request replaces the field choice of what it covers. The page mirrors
  // that: each entry holds the concrete actions it still owns, and is sent again with
  // the new channel_id whenever the socket reconnects.
  const subscriptions = [];
  const list = $("#subscriptions");
  const CHANGES = ["CREATE", "UPDATE", "DELETE"];

  // ALL_ACTIONS on one object means its updates and deletion: it exists already.
  function expand(action, id) {
    if (action !== "ALL_ACTIONS") return [action];
    return id ? ["UPDATE", "DELETE"] : CHANGES;
  }

  // The requests that (re)create an entry: one ALL_ACTIONS when it owns them all.
  function requestsFor(sub) {
    const all = expand("ALL_ACTIONS", sub.id);
    if (sub.actions.size === all.length && all.every((action) => sub.actions.has(action))) return ["ALL_ACTIONS"];
    return CHANGES.filter((action) => sub.actions.has(action));
  }

  function actionLabel(action) {
    return action === "ALL_ACTIONS" ? "all actions" : action.toLowerCase();
  }

  function target(sub) {
    if (sub.filter) return sub.filter.name + " " + JSON.stringify(sub.filter.value);
    return sub.id ? "id " + sub.id : "every object";
  }

  // The filter argument of a request or an operation ("" without one).
  function filterArgument(sub) {
    return sub.filter ? ", " + sub.filter.name + ": " + literal(sub.filter.value) : "";
  }

  function sameTarget(one, other) {
    return one.stream === other.stream && one.id === other.id && target(one) === target(other);
  }

  function describe(sub) {
    const fields = sub.fields.length ? sub.fields.map((f) => f.toLowerCase()).join(", ") : "all fields";
    return [sub.stream, requestsFor(sub).map(actionLabel).join(", "), target(sub), fields].join(" · ");
  }

  function forget(sub) {
    const index = subscriptions.indexOf(sub);
    if (index >= 0) subscriptions.splice(index, 1);
    renderSubscriptions();
  }

  // ``sub`` now owns its actions: older entries on the same object give them up.
  function takeOver(sub) {
    for (const other of [...subscriptions]) {
      if (other === sub || !sameTarget(other, sub)) continue;
      for (const action of sub.actions) other.actions.delete(action);
      if (!other.actions.size) forget(other);
    }
    renderSubscriptions();
  }

  function renderSubscriptions() {
    list.replaceChildren();
    if (!subscriptions.length) list.append(element("li", "empty", "None yet."));
    for (const sub of subscriptions) {
      const item = element("li", "subscription");
      item.dataset.state = sub.state;
      item.append(
        element("span", "description", describe(sub)),
        element("span", "badge state", sub.state),
        button("small unsubscribe", "Unsubscribe", () => {
          // An old error under the Subscribe button is not about this.
          subscribeMessage.textContent = "";
          unsubscribe(sub);
        }),
      );
      if (sub.cursor) item.append(element("code", "cursor", "after " + sub.cursor));
      if (sub.error) item.append(element("span", "error", sub.error));
      list.append(item);
    }
  }

  function subscriptionQuery(sub, operation, action) {
    let args = "operation: " + operation + ", action: " + action + ", channelId: " + literal(socket.channelId);
    if (sub.id) args += ", id: " + literal(sub.id);
    if (sub.fields.length) args += ", data: [" + sub.fields.join(", ") + "]";
    args += filterArgument(sub);
    return "subscription { " + streams.get(sub.stream).field + "(" + args + ") { ok error stream operation action } }";
  }

  // Send one subscribe or unsubscribe request; resolve to null or the error a person reads.
  async function request(sub, operation, action) {
    const query = subscriptionQuery(sub, operation, action);
    const reply = await graphql(query);
    const result = reply.data && reply.data[streams.get(sub.stream).field];
    const summary = operation.toLowerCase() + " " + [sub.stream, actionLabel(action), target(sub)].join(" · ");
    logRequest(summary, query, reply, !result || !result.ok);
    if (!result) return graphqlError(reply) || "No reply from the server.";
    return result.ok ? null : result.error;
  }

  // Send every request ``sub`` needs; it is live once the socket has confirmed them all.
  async function subscribe(sub, requests) {
    const channelId = socket.channelId;
    sub.state = "waiting for confirmation";
    sub.error = null;
    sub.waiting = new Set(requests);
    renderSubscriptions();
    for (const action of requests) {
      const error = await request(sub, "SUBSCRIBE", action);
      // A new socket came meanwhile: this answer is about the old one. connected() is
      // sending ``sub`` again with the new channel_id; an error must neither show nor drop it.
      if (socket.channelId !== channelId) return null;
      if (error && !sub.waiting.has(action)) {
        // The server confirms only what it has done: a reply lost on the way changes nothing.
        log("connection", "the socket confirmed " + actionLabel(action) + " on " + sub.stream + ": still subscribed");
      } else if (error) {
        sub.state = "failed";
        sub.error = error;
        renderSubscriptions();
        return error;
      }
    }
    return null;
  }

  async function unsubscribe(sub) {
    if (socket.protocol === "standard") {
      complete(sub);
      forget(sub);
      return;
    }
    // A failed subscription holds nothing on the server, and a closed socket holds nothing at all.
    if (socket.channelId && sub.state !== "failed") {
      for (const action of requestsFor(sub)) {
        const error = await request(sub, "UNSUBSCRIBE", action);
        if (error) {
          sub.error = error;
          renderSubscriptions();
          return;
        }
      }
    }
    forget(sub);
  }

  // The socket confirms each subscribe request; the oldest entry still waiting for it takes it.
  function confirm(frame) {
    if (frame.operation !== "subscribe") return;
    const action = frame.action.toUpperCase();
    const sub = subscriptions.find((s) => s.stream === frame.stream && s.waiting && s.waiting.has(action));
    if (!sub) return;
    sub.waiting.delete(action);
    if (!sub.waiting.size && sub.state !== "failed") {
      sub.state = "live";
      // The confirmation can beat the HTTP reply: the server has taken these actions over already.
      takeOver(sub);
    }
  }

  // ---- The form that subscribes -----------------------------------------------------

  const streamSelect = $("#stream");
  const fieldset = $("#fields");
  const subscribeButton = $("#subscribe-button");
  const subscribeMessage = $("#subscribe-message");

  for (const entry of config.streams) {
    const option = element("option", "", entry.stream + " (" + entry.model + ")");
    option.value = entry.stream;
    streamSelect.append(option);
  }

  const filterSelect = $("#filter-name");
  const filterValue = $("#filter-value");

  function renderFieldChoices() {
    filterSelect.replaceChildren(new Option("none", ""));
    for (const name of streams.get(streamSelect.value).filters || []) filterSelect.append(new Option(name, name));
    filterSelect.disabled = filterValue.disabled = filterSelect.options.length === 1;
    for (const old of fieldset.querySelectorAll("label")) old.remove();
    for (const name of streams.get(streamSelect.value).fields) {
      const box = element("input");
      box.type = "checkbox";
      box.name = "field";
      box.value = name;
      const label = element("label", "choice");
      label.append(box, " " + name.toLowerCase());
      fieldset.append(label);
    }
  }
  streamSelect.addEventListener("change", renderFieldChoices);
  renderFieldChoices();
  $("#subscribe-form").addEventListener("input", () => (subscribeMessage.textContent = ""));

  $("#subscribe-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!ready()) {
      subscribeMessage.textContent = socket.wanted
        ? "The socket is connecting: subscribe once the status says connected."
        : socket.protocol === "standard"
          ? "Connect first: a subscription is an operation on the socket."
          : "Connect first: a subscription needs the socket's channel_id.";
      return;
    }
    const action = $("#action").value;
    // "05" and "5" are the same object to the server; list them as one.
    const id = $("#object-id").value.trim().replace(/^0+(?=\d)/, "");
    const sub = {
      stream: streamSelect.value,
      id: id,
      actions: new Set(expand(action, id)),
      fields: [...fieldset.querySelectorAll("input:checked")].map((box) => box.value),
      filter: filterSelect.value ? { name: filterSelect.value, value: filterValue.value } : null,
      // Tables read before this may predate the object: only later ones can say it is gone.
      since: refreshesSent,
    };
    subscriptions.push(sub);
    if (socket.protocol === "standard") {
      sub.action = action;
      sub.cursor = tableCursors[sub.stream] || null;
      start(sub, false);
      return;
    }
    subscribeButton.disabled = true;
    subscribeMessage.textContent = "";
    const error = await subscribe(sub, [action]);
    subscribeButton.disabled = false;
    if (error) {
      // A refused request changed nothing on the server.
      subscribeMessage.textContent = error;
      forget(sub);
    } else {
      takeOver(sub);
    }
  });

  // ---- The socket, with reconnection ------------------------------------------------

  const statusBadge = $("#status");
  const channelIdText = $("#channel-id");
  const hostInput = $("#ws-host");
  const pathInput = $("#ws-path");
  const protocolSelect = $("#protocol");
  const paths = { 2018: config.socketPath, standard: config.standardPath };
  hostInput.value = location.host;
  if (protocolSelect) {
    // ?protocol=standard opens the page on graphql-transport-ws.
    const asked = new URLSearchParams(location.search).get("protocol");
    if (asked in paths) protocolSelect.value = asked;
    protocolSelect.addEventListener("change", () => (pathInput.value = paths[protocolSelect.value]));
  }
  pathInput.value = paths[protocolSelect ? protocolSelect.value : "2018"];

  // wanted: the person asked for a connection; reached: this address has answered before,
  // so a lost connection is worth retrying.
  // protocol: "2018" or "standard", of the connection asked for; acknowledged: graphql-transport-ws's
  // connection_ack came; operations: its subscriptions on this socket, by operation id.
  const socket = {
    ws: null,
    channelId: null,
    wanted: false,
    reached: false,
    attempt: 0,
    timer: null,
    protocol: "2018",
    acknowledged: false,
    operations: new Map(),
    operationsSent: 0,
  };
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
  const HANDSHAKE_MS = 10000;

  function setStatus(state, text) {
    statusBadge.dataset.state = state;
    statusBadge.textContent = text;
  }

  function setChannelId(value) {
    socket.channelId = value;
    channelIdText.textContent =
      value || (socket.protocol === "standard" ? "none: graphql-transport-ws has no channel_id" : "none yet");
  }

  // Whether subscriptions can be sent on the socket now.
  function ready() {
    return socket.protocol === "standard" ? socket.acknowledged : Boolean(socket.channelId);
  }

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let path = pathInput.value.trim() || "/";
    if (!path.startsWith("/")) path = "/" + path;
    // People paste URLs here: keep only the host (and port).
    const host = hostInput.value.trim().replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "") || location.host;
    hostInput.value = host;
    return scheme + host + path;
  }

  function open() {
    clearTimeout(socket.timer);
    const url = socketUrl();
    setStatus("connecting", "connecting to " + url);
    let ws;
    try {
      ws = socket.protocol === "standard" ? new WebSocket(url, "graphql-transport-ws") : new WebSocket(url);
    } catch (error) {
      socket.wanted = false;
      setStatus("closed", "cannot connect: " + error.message);
      log("error", "cannot open " + url + ": " + error.message);
      return;
    }
    socket.ws = ws;
    let silent = false;
    // A server that never routes this path may hold the handshake open (Channels 1
    // waits 20 s); a socket that sends no channel_id (or connection_ack) is no use either.
    const awaited = socket.protocol === "standard" ? "connection_ack" : "channel_id";
    const handshake = setTimeout(() => {
      if (ws === socket.ws && !ready()) {
        silent = true;
        ws.close();
      }
    }, HANDSHAKE_MS);
    ws.onopen = () => {
      log("connection", "socket open at " + url + ", waiting for " + awaited);
      if (socket.protocol === "standard") send({ type: "connection_init", payload: {} });
    };
    ws.onmessage = (event) => {
      if (ws !== socket.ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        log("error", "a frame that is not JSON", event.data);
        return;
      }
      if (socket.protocol === "standard") {
        operationMessage(frame);
        return;
      }
      const [kind, summary] = classify(frame);
      logFrame(kind, summary, frame);
      if (kind === "connect") connected(frame.channel_id);
      else if (kind === "confirmation") confirm(frame);
      else if (kind === "notification") notified(frame);
    };
    ws.onclose = (event) => {
      clearTimeout(handshake);
      if (ws !== socket.ws) return;
      const why = silent ? "no " + awaited + " within " + HANDSHAKE_MS / 1000 + " s" : "code " + event.code;
      socket.ws = null;
      socket.acknowledged = false;
      // The server ended every operation of the socket; each subscription starts one anew.
      socket.operations.clear();
      setChannelId(null);
      for (const sub of subscriptions) sub.state = "waiting for a connection";
      renderSubscriptions();
      if (!socket.wanted) {
        setStatus("closed", "not connected");
        log("connection", "socket closed");
      } else if (!socket.reached) {
        // Never connected here: a wrong host or path, not a restart. Retrying would hide that.
        socket.wanted = false;
        setStatus("failed", "could not connect: check the host and path");
        log("error", "could not connect to " + url + " (" + why + "); check the host and path");
      } else {
        const delay = BACKOFF_MS[Math.min(socket.attempt, BACKOFF_MS.length - 1)];
        socket.attempt += 1;
        setStatus("reconnecting", "reconnecting in " + delay / 1000 + " s (try " + socket.attempt + ")");
        log("connection", "socket closed (" + why + "); reconnecting in " + delay / 1000 + " s");
        socket.timer = setTimeout(open, delay);
      }
    };
  }

  function notified(frame) {
    refreshObjects();
    const data = frame.payload.data || {};
    const deleted = frame.payload.action === "delete" && frame.payload.cause !== "left";
    if (deleted && data.id !== undefined) stopFollowing(frame.stream, data.id, "was deleted");
  }

  // Nothing more can happen to a deleted object: end the subscriptions to it, once,
  // whichever of the notification, this page's delete or a table refresh tells first.
  function stopFollowing(stream, id, why) {
    const ended = subscriptions.filter((sub) => sub.stream === stream && sub.id === String(id) && !sub.ending);
    if (!ended.length) return;
    log("connection", stream + " #" + id + " " + why + ": unsubscribing from it");
    for (const sub of ended) {
      sub.ending = true;
      unsubscribe(sub);
    }
  }

  // Following one object's updates but not its deletion, the page hears nothing when
  // another client deletes it; only a table refresh shows the object is gone. So while
  // such a subscription is listed, the tables are read again every few seconds.
  const BLIND_REFRESH_MS = 5000;
  setInterval(() => {
    if (subscriptions.some((sub) => sub.id && !sub.actions.has("DELETE"))) refreshObjects();
  }, BLIND_REFRESH_MS);

  async function connected(channelId) {
    if (socket.attempt > 0 && subscriptions.length) {
      log("connection", "reconnected: subscribing again with the new channel_id");
    }
    socket.attempt = 0;
    socket.reached = true;
    setChannelId(channelId);
    setStatus("open", "connected");
    // An error under the button was about the old socket.
    subscribeMessage.textContent = "";
    for (const sub of [...subscriptions]) {
      // Stop if this connection is gone: the next one starts over.
      if (socket.channelId !== channelId) return;
      await subscribe(sub, requestsFor(sub));
    }
  }

  // ---- graphql-transport-ws ---------------------------------------------------------

  // Write a message on the socket, and log it.
  function send(message, summary) {
    socket.ws.send(JSON.stringify(message));
    logFrame("sent", summary || message.type, message);
  }

  function acknowledged(frame) {
    logFrame("connect", "connection acknowledged", frame);
    const resuming = subscriptions.some((sub) => sub.cursor);
    if (resuming) log("connection", "connected again: each subscription resumes after the last cursor it heard");
    socket.acknowledged = true;
    socket.attempt = 0;
    socket.reached = true;
    setStatus("open", "connected");
    subscribeMessage.textContent = "";
    for (const sub of subscriptions) start(sub, true);
  }

  // Subscribe ``sub`` as an operation of the socket, after its last cursor when it has one:
  // the server first sends what it missed (each event marked replayed), then live changes.
  // ``resuming``: it ran on an earlier socket, and the log counts what it missed meanwhile.
  function start(sub, resuming) {
    const entry = streams.get(sub.stream);
    const id = String(++socket.operationsSent);
    socket.operations.set(id, sub);
    sub.operation = id;
    sub.state = "live";
    sub.error = null;
    let args = "action: " + sub.action;
    if (sub.id) args += ", id: " + literal(sub.id);
    if (sub.cursor) args += ", after: " + literal(sub.cursor);
    args += filterArgument(sub);
    const data = (sub.fields.length ? sub.fields : entry.fields).map((name) => entry.dataFields[name]);
    const selection = "{ action cause model cursor replayed data { " + data.join(" ") + " } }";
    const query = "subscription { " + entry.changesField + "(" + args + ") " + selection + " }";
    send({ id: id, type: "subscribe", payload: { query: query } }, "subscribe " + describe(sub));
    sub.resumed = null;
    if (resuming && sub.cursor) {
      sub.replayed = 0;
      sub.resumed = log("connection", resumedSummary(sub));
    }
    renderSubscriptions();
  }

  function resumedSummary(sub) {
    const changes = sub.replayed === 1 ? " change" : " changes";
    return "resumed " + describe(sub) + ": " + sub.replayed + changes + " replayed";
  }

  // End ``sub``'s operation (the server answers nothing).
  function complete(sub) {
    if (!socket.acknowledged || socket.operations.get(sub.operation) !== sub) return;
    socket.operations.delete(sub.operation);
    send({ id: sub.operation, type: "complete" }, "complete " + describe(sub));
  }

  function operationMessage(frame) {
    const sub = socket.operations.get(frame.id);
    if (frame.type === "connection_ack") acknowledged(frame);
    else if (frame.type === "next" && sub) received(sub, frame);
    else if (frame.type === "error" && sub) {
      const error = (Array.isArray(frame.payload) ? frame.payload : []).map((e) => e.message).join("; ");
      logFrame("error", sub.stream + ": " + describe(sub) + " refused: " + error, frame);
      socket.operations.delete(frame.id);
      if (sub.resumed) $(".summary", sub.resumed).textContent = "could not resume " + describe(sub);
      // The server holds nothing for it: say why under the button, as for a refused 2018 request.
      subscribeMessage.textContent = error;
      forget(sub);
    } else if (frame.type === "complete" && sub) {
      logFrame("confirmation", sub.stream + ": the server ended " + describe(sub), frame);
      socket.operations.delete(frame.id);
      forget(sub);
    } else logFrame("reply", frame.type + (frame.id ? " of operation " + frame.id : ""), frame);
  }

  function received(sub, frame) {
    const event = frame.payload && frame.payload.data && frame.payload.data[streams.get(sub.stream).changesField];
    if (!event) {
      logFrame("error", sub.stream + ": an event that could not be read", frame);
      return;
    }
    sub.cursor = event.cursor;
    const pk = event.data && event.data.id !== undefined ? " #" + event.data.id : "";
    // An object that started or stopped matching the filter says so: it was not created or deleted.
    const moved = { ENTERED: " (entered the filter)", LEFT: " (left the filter)" }[event.cause] || "";
    const how = moved + (event.replayed ? " (replayed)" : "");
    logFrame("notification", sub.stream + ": " + event.action.toLowerCase() + " " + event.model + pk + how, frame);
    if (event.action === "RESYNC") {
      // The server could not send what this page missed: read everything again.
      if (sub.resumed) $(".summary", sub.resumed).textContent = "could not resume " + describe(sub);
      log("connection", "history gone: reloaded (" + describe(sub) + ")");
    } else if (event.replayed && sub.resumed) {
      sub.replayed += 1;
      $(".summary", sub.resumed).textContent = resumedSummary(sub);
    }
    renderSubscriptions();
    refreshObjects();
    if (event.action === "DELETE" && event.cause !== "LEFT" && event.data) {
      // The server completes a subscription to the object itself; others on it end here.
      if (sub.id) sub.ending = true;
      stopFollowing(sub.stream, event.data.id, "was deleted");
    }
  }

  function close() {
    socket.wanted = false;
    clearTimeout(socket.timer);
    if (socket.ws) socket.ws.close();
    else setStatus("closed", "not connected");
  }

  $("#connect-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (socket.ws) {
      // A new address: drop the old socket without triggering a reconnect to it.
      const old = socket.ws;
      socket.ws = null;
      old.close();
    }
    const protocol = protocolSelect ? protocolSelect.value : "2018";
    if (protocol !== socket.protocol && subscriptions.length) {
      // The two protocols subscribe differently: start over rather than translate.
      log("connection", "another protocol: this page's subscriptions end");
      subscriptions.length = 0;
      renderSubscriptions();
    }
    socket.protocol = protocol;
    socket.acknowledged = false;
    socket.wanted = true;
    socket.reached = false;
    socket.attempt = 0;
    setChannelId(null);
    open();
  });
  $("#disconnect").addEventListener("click", close);

  // ---- Users and groups, changed through the GraphQL mutations ----------------------

  // The example's user input requires a password; these users only exist to be
  // watched, so the page sends a random one nobody sees, and the log masks it.
  function randomPassword() {
    const bytes = crypto.getRandomValues(new Uint8Array(18));
    return "!" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // secretsOnCreate: values a create sends that the log must not show.
  const kinds = {
    user: {
      editor: $("#users-editor"),
      model: "auth.user",
      list: "users { id username firstName lastName email }",
      key: "users",
      inputs: ["username", "firstName", "lastName", "email"],
      argument: "newUser",
      cells: (user) => [user.id, user.username, [user.firstName, user.lastName].join(" ").trim()],
      name: (user) => user.username,
      secretsOnCreate: () => ({ password: randomPassword() }),
    },
    group: {
      editor: $("#groups-editor"),
      model: "auth.group",
      list: "groups { id name }",
      key: "groups",
      inputs: ["name"],
      argument: "newGroup",
      cells: (group) => [group.id, group.name],
      name: (group) => group.name,
      secretsOnCreate: () => ({}),
    },
  };

  // The streams that follow ``kind``'s model.
  function streamsOf(kind) {
    return config.streams.filter((entry) => entry.model === kinds[kind].model).map((entry) => entry.stream);
  }

  function masked(secrets) {
    return Object.fromEntries(Object.keys(secrets).map((key) => [key, "\u2022\u2022\u2022\u2022"]));
  }

  function capitalised(word) {
    return word[0].toUpperCase() + word.slice(1);
  }

  function formOf(kind) {
    return $(".object-form", kinds[kind].editor);
  }

  function resetForm(kind) {
    const form = formOf(kind);
    form.reset();
    form.elements.id.value = "";
    $(".save", form).textContent = "Create " + kind;
  }

  function edit(kind, object) {
    const form = formOf(kind);
    form.elements.id.value = object.id;
    for (const name of kinds[kind].inputs) form.elements[name].value = object[name] || "";
    $(".save", form).textContent = "Save " + kind + " #" + object.id;
    say(kind, "");
  }

  // The form's message line; state "ok" or "error" marks an answer, none clears it.
  function say(kind, text, state) {
    const message = $(".message", formOf(kind));
    message.textContent = text;
    if (state) message.dataset.state = state;
    else delete message.dataset.state;
  }

  // One mutation at a time per kind: a double click must not create or delete twice
  // (nor ask twice whether to delete).
  const busy = new Set();

  // Run ``work`` unless a mutation of ``kind`` is under way; resolves to its result or false.
  async function oneAtATime(kind, work) {
    if (busy.has(kind)) return false;
    busy.add(kind);
    try {
      return await work();
    } finally {
      busy.delete(kind);
    }
  }

  // Run a mutation; the form's message says how it went. Resolves to whether it worked.
  // ``shown`` is ``input`` as the log may show it; ``done`` runs on success, before the refresh.
  async function mutate(kind, name, input, selection, { shown = input, done } = {}) {
    const saveButton = $(".save", formOf(kind));
    say(kind, "saving\u2026", "busy");
    saveButton.disabled = true;
    const text = (argument) => "mutation { " + name + "(" + argument + ") { " + selection + " } }";
    const reply = await graphql(text(input));
    saveButton.disabled = false;
    const result = reply.data && reply.data[name];
    const ok = Boolean(result && result.ok);
    logRequest(name, text(shown), reply, !ok);
    if (ok) {
      say(kind, "done", "ok");
      if (done) done();
      await refreshObjects();
    } else {
      const errors = ((result && result.errors) || []).map((e) => e.field + ": " + e.messages.join(" "));
      say(kind, errors.join("; ") || graphqlError(reply) || "failed", "error");
    }
    return ok;
  }

  const ERRORS = "ok errors { field messages }";

  function save(kind) {
    const spec = kinds[kind];
    const form = formOf(kind);
    const values = {};
    for (const name of spec.inputs) values[name] = form.elements[name].value.trim();
    const id = form.elements.id.value;
    if (id) {
      const input = literal(Object.assign({ id: id }, values));
      return oneAtATime(kind, () => mutate(kind, "update" + capitalised(kind), spec.argument + ": " + input, ERRORS));
    }
    const secrets = spec.secretsOnCreate();
    const input = spec.argument + ": " + literal(Object.assign({}, values, secrets));
    const shown = spec.argument + ": " + literal(Object.assign({}, values, masked(secrets)));
    const selection = ERRORS + " " + kind + " { id }";
    return oneAtATime(kind, () => mutate(kind, "create" + capitalised(kind), input, selection, { shown }));
  }

  // What this page is deleting: a table refresh meanwhile leaves its subscriptions to
  // the delete's own reply, which ends them with the right reason.
  const deleting = new Set();

  function remove(kind, object) {
    return oneAtATime(kind, async () => {
      if (!window.confirm("Delete " + kind + " #" + object.id + " (" + kinds[kind].name(object) + ")?")) return false;
      const key = kind + " #" + object.id;
      const done = () => {
        for (const stream of streamsOf(kind)) stopFollowing(stream, object.id, "was deleted on this page");
      };
      deleting.add(key);
      try {
        return await mutate(kind, "delete" + capitalised(kind), "id: " + literal(String(object.id)), "ok", { done });
      } finally {
        deleting.delete(key);
      }
    });
  }

  // ``objects`` is every ``kind`` the server had when refresh number ``sent`` was sent.
  function renderObjects(kind, objects, sent) {
    const spec = kinds[kind];
    const listed = new Set(objects.map((object) => String(object.id)));
    for (const stream of streamsOf(kind)) {
      for (const sub of [...subscriptions]) {
        // A subscribe request on its way gets the server's own answer about the id.
        const settled = sub.state !== "waiting for confirmation" && sub.since < sent;
        const gone = sub.id && !listed.has(sub.id) && !deleting.has(kind + " #" + sub.id);
        if (sub.stream === stream && settled && gone) {
          stopFollowing(stream, sub.id, "no longer exists");
        }
      }
    }
    const form = formOf(kind);
    const editing = form.elements.id.value;
    if (editing && !objects.some((object) => String(object.id) === editing)) {
      resetForm(kind);
      say(kind, kind + " #" + editing + " was deleted", "error");
    }
    const body = $("tbody", spec.editor);
    body.replaceChildren();
    for (const object of objects) {
      const row = element("tr");
      row.dataset.id = object.id;
      for (const value of spec.cells(object)) {
        const cell = element("td", "", value);
        cell.title = value;
        row.append(cell);
      }
      const actions = element("td", "actions");
      actions.append(
        button("small edit", "Edit", () => edit(kind, object)),
        button("small delete", "Delete", () => remove(kind, object)),
      );
      row.append(actions);
      body.append(row);
    }
  }

  // Replies can come back out of order: an older one must not redraw over a newer one.
  let refreshesSent = 0;
  let refreshShown = 0;

  // Each stream's cursor, read with the tables shown (graphql-transport-ws): a new subscription
  // starts after it, so a change committed between the read and the subscribe is not lost.
  const tableCursors = {};
  // Read before the tables: a change between the two reads then comes twice, never not at all.
  const cursorFields = config.streams.filter((entry) => entry.cursorField).map((entry) => entry.cursorField);

  async function refreshObjects() {
    const sent = ++refreshesSent;
    const reply = await graphql("{ " + cursorFields.join(" ") + " " + kinds.user.list + " " + kinds.group.list + " }");
    if (!reply.data || sent < refreshShown) return;
    refreshShown = sent;
    for (const entry of config.streams) {
      if (entry.cursorField) tableCursors[entry.stream] = reply.data[entry.cursorField];
    }
    for (const kind of Object.keys(kinds)) renderObjects(kind, reply.data[kinds[kind].key] || [], sent);
  }

  for (const kind of Object.keys(kinds)) {
    const form = formOf(kind);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (await save(kind)) resetForm(kind);
    });
    $(".cancel", form).addEventListener("click", () => resetForm(kind));
    // An old "done" or error must not look like the answer to what is being typed now.
    form.addEventListener("input", () => say(kind, ""));
  }

  refreshObjects();
  // Other clients change data too: show the current rows whenever the tab comes back.
  window.addEventListener("focus", refreshObjects);
  // Connect straight away: the page is for watching.
  $("#connect-form").requestSubmit();
})();
