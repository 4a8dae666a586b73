// Drives the graphql-ws client from the npm registry against a real server, as an application would.
// Usage: node graphql_ws_client.mjs '<scenario as JSON>'; prints one JSON object with what it saw.
// The scenario names the socket URL and the steps to run (see test_graphql_ws_clients.py).
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const scenario = JSON.parse(process.argv[2]);

// Node 20 has no WebSocket of its own: the ws package's, which sends no Origin (a client that is no browser).
const closes = [];
const client = createClient({
  url: scenario.url,
  webSocketImpl: WebSocket,
  connectionParams: scenario.connectionParams,
  retryAttempts: 0,
  lazy: false, // one socket for every step, until dispose()
  on: { closed: (event) => closes.push(event.code) },
});

// The errors of an operation: GraphQL errors, or the close code of a socket that closed.
const errorOf = (errors) => (Array.isArray(errors) ? errors : { closeCode: errors.code });

// One operation with a single result (a query or a mutation): its result or its errors.
function run(query) {
  return new Promise((resolve) => {
    let result;
    client.subscribe(
      { query },
      {
        next: (value) => { result = value; },
        error: (errors) => resolve({ error: errorOf(errors) }),
        complete: () => resolve(result),
      },
    );
  });
}

// Follows a subscription until `count` events arrived, then ends it (graphql-ws sends "complete").
function follow(query, count, seen) {
  let stop;
  const done = new Promise((resolve) => {
    stop = client.subscribe(
      { query },
      {
        next: (value) => {
          seen.push(value);
          if (seen.length === count) { stop(); resolve({ completed: "by the client" }); }
        },
        error: (errors) => resolve({ error: errorOf(errors) }),
        complete: () => resolve({ completed: "by the server" }),
      },
    );
  });
  return done;
}

const report = { steps: [], closes };
try {
  for (const step of scenario.steps) {
    if (step.run) {
      report.steps.push(await run(step.run));
    } else if (step.follow) {
      const seen = [];
      const ending = follow(step.follow, step.count, seen);
      // The server serves one socket's messages in order: what runs next comes after the subscribe.
      const results = [];
      for (const query of step.then) results.push(await run(query));
      const end = await Promise.race([
        ending,
        new Promise((resolve) => setTimeout(() => resolve({ timedOut: true }), 10000)),
      ]);
      report.steps.push({ results, events: seen, end });
    }
  }
} catch (error) {
  report.failure = String(error && error.message ? error.message : JSON.stringify(error));
}
await client.dispose();
await new Promise((resolve) => setTimeout(resolve, 100)); // lets the close event arrive
console.log(JSON.stringify(report));
process.exit(0);
