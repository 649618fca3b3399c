// CPNI Gateway's GraphiQL: the tour as tabs, the schema reloaded whenever
// the headers change, and (serve --demo only) a picker that fills
// Authorization, X-Purpose and X-Campaign-Id. Plain React.createElement:
// there is no build step for this file.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("cpni-explorer-config").textContent);
  var h = React.createElement;
  var useEditorContext = GraphiQL.React.useEditorContext;
  var useSchemaContext = GraphiQL.React.useSchemaContext;
  var demo = config.demo;
  var callers = {};
  (demo ? demo.callers : []).forEach(function (c) { callers[c.division] = c; });

  function isMarketing(purpose) {
    return purpose.indexOf("marketing") !== -1;
  }

  function headersFor(division, purpose, campaign, extra) {
    var caller = callers[division];
    var token = caller ? caller.token : "<a token of " + division + ": cpni-gateway token issue --division " + division + ">";
    var headers = { Authorization: "Bearer " + token, "X-Purpose": purpose };
    if (campaign) headers["X-Campaign-Id"] = campaign;
    Object.keys(extra || {}).forEach(function (k) { headers[k] = extra[k]; });
    return JSON.stringify(headers, null, 2);
  }

  function campaignsOf(division, purpose) {
    return (demo ? demo.campaigns : []).filter(function (c) {
      return c.division === division && c.purpose === purpose;
    });
  }

  // Reload the schema (and so the docs) as soon as the headers change.
  function SchemaFollowsHeaders() {
    var editor = useEditorContext({ nonNull: true });
    var schema = useSchemaContext({ nonNull: true });
    var introspect = React.useRef(schema.introspect);
    introspect.current = schema.introspect;
    var headerEditor = editor.headerEditor;
    React.useEffect(function () {
      if (!headerEditor) return undefined;
      var last = headerEditor.getValue();
      var timer = null;
      function changed() {
        var now = headerEditor.getValue();
        if (now === last) return;
        last = now;
        clearTimeout(timer);
        timer = setTimeout(function () { introspect.current(); }, 300);
      }
      headerEditor.on("change", changed);
      return function () { headerEditor.off("change", changed); clearTimeout(timer); };
    }, [headerEditor]);
    return null;
  }

  function Picker() {
    var editor = useEditorContext({ nonNull: true });
    var divisions = Object.keys(callers).sort();
    var first = callers.customer_care ? "customer_care" : divisions[0];
    var state = React.useState({ division: first, purpose: callers[first].purposes[0], campaign: "" });
    var chosen = state[0];
    var setChosen = state[1];

    function apply(next) {
      setChosen(next);
      var current = {};
      try { current = JSON.parse(editor.headerEditor.getValue() || "{}") || {}; } catch (e) { current = {}; }
      ["Authorization", "X-Purpose", "X-Campaign-Id"].forEach(function (k) { delete current[k]; });
      editor.headerEditor.setValue(headersFor(next.division, next.purpose, next.campaign, current));
    }
    function withCampaign(division, purpose) {
      var found = isMarketing(purpose) ? campaignsOf(division, purpose) : [];
      return { division: division, purpose: purpose, campaign: found.length ? found[0].id : "" };
    }
    function onDivision(event) {
      var division = event.target.value;
      var purposes = callers[division].purposes;
      apply(withCampaign(division, purposes.indexOf(chosen.purpose) !== -1 ? chosen.purpose : purposes[0]));
    }
    function onPurpose(event) { apply(withCampaign(chosen.division, event.target.value)); }
    function onCampaign(event) {
      apply({ division: chosen.division, purpose: chosen.purpose, campaign: event.target.value });
    }
    function select(id, value, onChange, options) {
      return h("select", { id: id, value: value, onChange: onChange, className: "cpni-select" },
        options.map(function (o) { return h("option", { key: o[0], value: o[0] }, o[1]); }));
    }
    var campaigns = campaignsOf(chosen.division, chosen.purpose);
    return h("div", { className: "cpni-picker" },
      h("div", { className: "graphiql-doc-explorer-title" }, "Demo caller"),
      h("p", null, "Fills the Authorization, X-Purpose and X-Campaign-Id headers of the current tab; the schema reloads."),
      h("label", { htmlFor: "cpni-division" }, "Division"),
      select("cpni-division", chosen.division, onDivision, divisions.map(function (d) { return [d, d]; })),
      h("label", { htmlFor: "cpni-purpose" }, "Purpose"),
      select("cpni-purpose", chosen.purpose, onPurpose, callers[chosen.division].purposes.map(function (p) { return [p, p]; })),
      isMarketing(chosen.purpose) ? h("label", { htmlFor: "cpni-campaign" }, "Campaign") : null,
      isMarketing(chosen.purpose)
        ? select("cpni-campaign", chosen.campaign, onCampaign,
            [["", "(none: CAMPAIGN_REQUIRED)"]].concat(campaigns.map(function (c) { return [c.id, c.id]; })))
        : null,
      h("button", { id: "cpni-apply", type: "button", className: "graphiql-button cpni-apply", onClick: function () { apply(chosen); } },
        "Fill this tab's headers"),
      h("p", null, "What each division may see: ", h("a", { href: "/policy", target: "_blank" }, "the policy matrix"), ".")
    );
  }

  var pickerPlugin = {
    title: "Demo caller",
    icon: function () { return h("span", { className: "cpni-picker-icon", "aria-hidden": "true" }, "ID"); },
    content: Picker,
  };

  function memoryStorage() {
    // Demo tokens change with the data directory: tabs are not kept across reloads.
    var items = new Map();
    return {
      getItem: function (k) { return items.has(k) ? items.get(k) : null; },
      setItem: function (k, v) { items.set(k, String(v)); },
      removeItem: function (k) { items.delete(k); },
      clear: function () { items.clear(); },
      key: function (i) { return Array.from(items.keys())[i] || null; },
      get length() { return items.size; },
    };
  }

  var tabs = config.tour.map(function (step) {
    return {
      query: step.query,
      headers: headersFor(step.division, step.purpose, step.campaign, step.strict ? { "X-Authz-Mode": "strict" } : {}),
    };
  });
  var fetcher = GraphiQL.createFetcher({ url: config.url });
  var props = {
    fetcher: fetcher,
    defaultTabs: tabs,
    defaultEditorToolsVisibility: "headers",
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    headers: tabs[0].headers, // the first tab's: GraphiQL fills the editor from this prop, not from the tab
  };
  if (demo) {
    props.plugins = [pickerPlugin];
    props.visiblePlugin = pickerPlugin;
    props.storage = memoryStorage();
  }
  var logo = h(GraphiQL.Logo, null,
    h(SchemaFollowsHeaders),
    h("a", { href: "/policy", className: "cpni-logo", title: "The policy matrix" }, "CPNI Gateway"));
  ReactDOM.createRoot(document.getElementById("graphiql")).render(h(GraphiQL, props, logo));
})();
