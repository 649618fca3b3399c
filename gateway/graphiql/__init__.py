"""GraphiQL, served by the gateway itself: the page, its pinned assets, the demo caller picker.

The third-party bundles (GraphiQL, React) are not in the repository: the
build fetches them from the npm registry at pinned versions and checks them
against pinned hashes (``assets.py``; run by the hatch build hook
``hatch_build.py`` for every wheel, editable installs included). The page
(``page.py``) loads each one from ``/graphiql/<file>`` with its integrity
hash, so the explorer works on a machine with no internet.
"""
