// Starts GraphiQL against the API that served the page. A shared link carries the query,
// variables and headers in the URL (?q=…&variables=…&headers=…).
"use strict";

const EXAMPLE_QUERY = `# Every request needs an API token (itsm token create --role viewer):
# open Headers below and enter {"Authorization": "Bearer <token>"}.
# Run a query with Ctrl-Enter or the play button.
{
  me { name role permissions }
}
`;

const parameters = Object.fromEntries(new URLSearchParams(window.location.search));
// Headers may arrive in a link but are never kept in the address bar: they hold the token.
const sharedHeaders = parameters.headers;
delete parameters.headers;

function updateURL(changes) {
  Object.assign(parameters, changes);
  const kept = Object.entries(parameters).filter(([, value]) => Boolean(value));
  history.replaceState(null, "", "?" + new URLSearchParams(kept).toString());
}

updateURL({});

const fetcher = GraphiQL.createFetcher({ url: window.location.href.split("?")[0] });

function ServiceManagementGraphiQL() {
  const [query, setQuery] = React.useState(parameters.q || EXAMPLE_QUERY);
  const [variables, setVariables] = React.useState(parameters.variables);
  const [headers, setHeaders] = React.useState(sharedHeaders);
  const explorer = React.useMemo(() => GraphiQLPluginExplorer.explorerPlugin(), []);

  return React.createElement(GraphiQL, {
    fetcher,
    defaultEditorToolsVisibility: true,
    plugins: [explorer],
    query,
    variables,
    headers,
    onEditQuery: (value) => { setQuery(value); updateURL({ q: value }); },
    onEditVariables: (value) => { setVariables(value); updateURL({ variables: value }); },
    onEditHeaders: setHeaders,
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(ServiceManagementGraphiQL),
);
