// graphql-http's server audits against a running gateway; prints one JSON array of results.
// Usage: node audit.mjs URL  (AUDIT_TOKEN, AUDIT_PURPOSE: the caller every request is sent as)
import { auditServer } from "graphql-http";

const url = process.argv[2];
const caller = { authorization: `Bearer ${process.env.AUDIT_TOKEN}`, "x-purpose": process.env.AUDIT_PURPOSE };

// The gateway serves authenticated callers only: every audit request carries the caller's headers.
function fetchAs(input, init = {}) {
  const headers = new Headers(init.headers || {});
  for (const [name, value] of Object.entries(caller)) headers.set(name, value);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: fetchAs });
const shown = [];
for (const result of results) {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== "ok") {
    entry.reason = result.reason;
    entry.response = { status: result.response.status, contentType: result.response.headers.get("content-type") };
  }
  shown.push(entry);
}
process.stdout.write(JSON.stringify(shown, null, 1) + "\n");
